//! The `[accounts]` table: distroless's accounts unless `defaults = false`, then the
//! declared groups and users, each checked against those before it.

use super::ctx::{Ctx, parse_mode};
use super::raw::RawAccounts;
use crate::accounts::{Accounts, Group, NOLOGIN, User, valid_account_name, valid_field};
use crate::error::BuildError;

pub(super) fn check_accounts(ctx: &Ctx, raw: &RawAccounts) -> Result<Accounts, BuildError> {
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
