//! Users and groups: `/etc/passwd`, `/etc/group` and home directories.
//!
//! With `defaults = true` (the default) an image gets distroless's accounts, byte for
//! byte: root (0), nobody (65534) and nonroot (65532), and the groups root, nobody, tty,
//! staff and nonroot. Declared accounts follow, in spec order.

use serde::Deserialize;
use toml::Spanned;

use crate::error::BuildError;
use crate::spec::{Ctx, RawMode, parse_mode};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawAccounts {
    #[serde(default = "yes")]
    defaults: bool,
    #[serde(default)]
    users: Vec<RawUser>,
    #[serde(default)]
    groups: Vec<RawGroup>,
}

impl Default for RawAccounts {
    fn default() -> Self {
        RawAccounts {
            defaults: true,
            users: Vec::new(),
            groups: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawUser {
    name: Spanned<String>,
    uid: u32,
    gid: Option<u32>,
    home: Option<String>,
    shell: Option<String>,
    gecos: Option<String>,
    home_mode: Option<Spanned<RawMode>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawGroup {
    name: Spanned<String>,
    gid: u32,
    #[serde(default)]
    members: Vec<String>,
}

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

const NOLOGIN: &str = "/sbin/nologin";

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

fn valid_account_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && !s.starts_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !s.bytes().all(|b| b.is_ascii_digit())
}

fn valid_field(s: &str) -> bool {
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

    pub(crate) fn from_raw(ctx: &Ctx, raw: &RawAccounts) -> Result<Accounts, BuildError> {
        let mut acc = if raw.defaults {
            Accounts::distroless()
        } else {
            Accounts::default()
        };
        let builtin_users = acc.users.len();
        for g in &raw.groups {
            let name = g.name.get_ref();
            if !valid_account_name(name) || g.members.iter().any(|m| !valid_account_name(m)) {
                return Err(ctx.err(
                    Some(g.name.span()),
                    format!("`{name}` is not a valid group name or has an invalid member"),
                ));
            }
            if let Some(i) = acc.groups.iter().position(|x| &x.name == name) {
                if i >= 5 || !raw.defaults {
                    return Err(ctx.err(
                        Some(g.name.span()),
                        format!("group `{name}` is declared twice"),
                    ));
                }
                acc.groups.remove(i);
            }
            if acc.groups.iter().any(|x| x.gid == g.gid) {
                return Err(ctx.err(
                    Some(g.name.span()),
                    format!("gid {} of group `{name}` is already used", g.gid),
                ));
            }
            acc.groups.push(Group {
                name: name.clone(),
                gid: g.gid,
                members: g.members.clone(),
            });
        }
        for u in &raw.users {
            let name = u.name.get_ref();
            if !valid_account_name(name) {
                return Err(ctx.err(
                    Some(u.name.span()),
                    format!("`{name}` is not a valid user name"),
                ));
            }
            let fields = [u.home.as_deref(), u.shell.as_deref(), u.gecos.as_deref()];
            if fields.iter().flatten().any(|f| !valid_field(f)) {
                return Err(ctx.err(
                    Some(u.name.span()),
                    format!("user `{name}` has a field containing `:` or a newline"),
                ));
            }
            if let Some(i) = acc.users.iter().position(|x| &x.name == name) {
                if i >= builtin_users {
                    return Err(ctx.err(
                        Some(u.name.span()),
                        format!("user `{name}` is declared twice"),
                    ));
                }
                acc.users.remove(i);
            }
            if acc.users.iter().any(|x| x.uid == u.uid) {
                return Err(ctx.err(
                    Some(u.name.span()),
                    format!("uid {} of user `{name}` is already used", u.uid),
                ));
            }
            let gid = u.gid.unwrap_or(u.uid);
            if !acc.groups.iter().any(|g| g.gid == gid) {
                if acc.groups.iter().any(|g| &g.name == name) {
                    return Err(ctx.err(
                        Some(u.name.span()),
                        format!("user `{name}` has gid {gid}, but group `{name}` has another gid"),
                    ));
                }
                acc.groups.push(Group {
                    name: name.clone(),
                    gid,
                    members: Vec::new(),
                });
            }
            let home = u.home.clone().unwrap_or_else(|| format!("/home/{name}"));
            if !home.starts_with('/') {
                return Err(ctx.err(
                    Some(u.name.span()),
                    format!("home `{home}` of user `{name}` must be absolute"),
                ));
            }
            let home_mode = match &u.home_mode {
                Some(m) => Some(parse_mode(ctx, m, "accounts.users.home-mode")?),
                None if home == "/nonexistent" => None,
                None => Some(0o700),
            };
            acc.users.push(User {
                name: name.clone(),
                uid: u.uid,
                gid,
                gecos: u.gecos.clone().unwrap_or_else(|| name.clone()),
                home,
                shell: u.shell.clone().unwrap_or_else(|| NOLOGIN.into()),
                home_mode,
            });
        }
        Ok(acc)
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
