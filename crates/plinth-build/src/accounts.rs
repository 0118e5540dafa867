//! Users and groups: `/etc/passwd`, `/etc/group` and home directories.
//!
//! With `defaults = true` (the default) an image gets distroless's accounts, byte for
//! byte: root (0), nobody (65534) and nonroot (65532), and the groups root, nobody, tty,
//! staff and nonroot. Declared accounts follow, in spec order (checked by the spec's
//! `[accounts]` table).

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: String,
    pub shell: String,
    /// Mode of the home directory; `None` when no home directory is made.
    pub home_mode: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Accounts {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
}

pub(crate) const NOLOGIN: &str = "/sbin/nologin";

fn user(name: &str, id: u32, home: &str, home_mode: Option<u32>) -> User {
    User {
        name: name.into(),
        uid: id,
        gid: id,
        gecos: name.into(),
        home: home.into(),
        shell: NOLOGIN.into(),
        home_mode,
    }
}

fn group(name: &str, gid: u32) -> Group {
    Group {
        name: name.into(),
        gid,
        members: Vec::new(),
    }
}

pub(crate) fn valid_account_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !s.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn valid_field(s: &str) -> bool {
    !s.contains([':', '\n', '\0'])
}

impl Accounts {
    /// distroless's accounts.
    pub fn distroless() -> Accounts {
        Accounts {
            users: vec![
                user("root", 0, "/root", Some(0o700)),
                user("nobody", 65534, "/nonexistent", None),
                user("nonroot", 65532, "/home/nonroot", Some(0o700)),
            ],
            groups: vec![
                group("root", 0),
                group("nobody", 65534),
                group("tty", 5),
                group("staff", 50),
                group("nonroot", 65532),
            ],
        }
    }

    /// Resolves `user`, `user:group`, `uid`, `uid:gid` (names or numbers) to numbers.
    pub fn resolve_owner(&self, s: &str) -> Option<(u32, u32)> {
        let (u, g) = match s.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (s, None),
        };
        let (uid, primary) = match u.parse::<u32>() {
            Ok(n) => (
                n,
                self.users.iter().find(|x| x.uid == n).map_or(n, |x| x.gid),
            ),
            Err(_) => self
                .users
                .iter()
                .find(|x| x.name == u)
                .map(|x| (x.uid, x.gid))?,
        };
        let gid = match g {
            None => primary,
            Some(g) => match g.parse::<u32>() {
                Ok(n) => n,
                Err(_) => self.groups.iter().find(|x| x.name == g)?.gid,
            },
        };
        Some((uid, gid))
    }

    pub fn passwd(&self) -> String {
        self.users
            .iter()
            .map(|u| {
                format!(
                    "{}:x:{}:{}:{}:{}:{}\n",
                    u.name, u.uid, u.gid, u.gecos, u.home, u.shell
                )
            })
            .collect()
    }

    pub fn group(&self) -> String {
        self.groups
            .iter()
            .map(|g| format!("{}:x:{}:{}\n", g.name, g.gid, g.members.join(",")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distroless_files_are_exact() {
        let a = Accounts::distroless();
        assert_eq!(
            a.passwd(),
            "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
        );
        assert_eq!(
            a.group(),
            "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n"
        );
    }

    #[test]
    fn owners_resolve_by_name_and_number() {
        let a = Accounts::distroless();
        assert_eq!(a.resolve_owner("nonroot"), Some((65532, 65532)));
        assert_eq!(a.resolve_owner("nonroot:staff"), Some((65532, 50)));
        assert_eq!(a.resolve_owner("1000:1000"), Some((1000, 1000)));
        assert_eq!(a.resolve_owner("65534"), Some((65534, 65534)));
        assert_eq!(a.resolve_owner("ghost"), None);
        assert_eq!(a.resolve_owner("root:ghosts"), None);
    }
}
