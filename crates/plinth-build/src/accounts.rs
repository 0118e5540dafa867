//! Users and groups: `/etc/passwd`, `/etc/group` and home directories.
//!
//! With `defaults = true` (the default) an image gets distroless's accounts, byte for
//! byte: root (0), nobody (65534) and nonroot (65532), and the groups root, nobody, tty,
//! staff and nonroot. Declared accounts follow, in spec order (checked by the spec's
//! `[accounts]` table).

/// A line of `/etc/passwd`, plus the mode of its home directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// Numeric user id.
    pub uid: u32,
    /// Numeric id of the primary group.
    pub gid: u32,
    /// The comment field (distroless sets it to the login name).
    pub gecos: String,
    /// Absolute path of the home directory (`/nonexistent` for none).
    pub home: String,
    /// Login shell (`/sbin/nologin` unless the spec says otherwise).
    pub shell: String,
    /// Mode of the home directory; `None` when no home directory is made.
    pub home_mode: Option<u32>,
}

/// A line of `/etc/group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Group name.
    pub name: String,
    /// Numeric group id.
    pub gid: u32,
    /// Supplementary members, by login name, in spec order.
    pub members: Vec<String>,
}

/// An image's users and groups, in the order they are written to `/etc/passwd` and
/// `/etc/group`.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    /// Users, in `/etc/passwd` order.
    pub users: Vec<User>,
    /// Groups, in `/etc/group` order.
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

    /// The contents of `/etc/passwd`: one `name:x:uid:gid:gecos:home:shell` line per user.
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

    /// The contents of `/etc/group`: one `name:x:gid:members` line per group.
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
