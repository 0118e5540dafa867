//! Becoming root of a user namespace when not root, so that an unprivileged user can
//! build images whose maintainer scripts run, as mmdebstrap's `unshare` mode does.
//!
//! A process cannot map ids other than its own into a user namespace it made; the
//! set-uid helpers `newuidmap` and `newgidmap` (Debian package `uidmap`) can, within
//! the ranges `/etc/subuid` and `/etc/subgid` grant the user. So the work takes two
//! processes:
//!
//! 1. the parent ([`rerun_as_namespace_root`]) spawns its own executable again, with
//!    the same arguments, the environment marker [`CHILD_ENV`] and two pipes;
//! 2. the child, first thing in `main` while it still has one thread
//!    ([`enter_if_child`]), calls `unshare(CLONE_NEWUSER)` and tells the parent;
//! 3. the parent writes the child's maps with `newuidmap PID 0 UID 1 1 START COUNT`
//!    (and `newgidmap` likewise): the user is the namespace's root, and the ids
//!    packages own files as (1 to 65535) are the user's subordinate ids;
//! 4. the parent releases the child, which sets its ids to 0 and carries on as root
//!    of the namespace, while the parent waits, forwards `SIGINT`, `SIGTERM` and
//!    `SIGHUP`, and ends with the child's status.
//!
//! What the child creates as its root belongs to the user outside, so the image, the
//! lock and the cache stay the user's.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use rustix::io::FdFlags;
use rustix::process::{Pid, Signal};

/// The environment variable that makes a process the child of
/// [`rerun_as_namespace_root`]: `PARENT_PID:READ_FD:WRITE_FD`.
pub const CHILD_ENV: &str = "PLINTH_USERNS_CHILD";

/// How many subordinate ids a user needs: Debian's packages own files as any id up to
/// 65534 (`nobody`), and the namespace's ids 1..=65536 come from the range.
pub const MIN_IDS: u32 = 65536;

/// The lowest fd number the pipes get in the child, clear of stdin, stdout and stderr.
const FIRST_FD: RawFd = 3;

/// What went wrong entering a user namespace.
#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    /// `newuidmap` or `newgidmap` is not on `PATH`.
    #[error(
        "`{tool}` is not on PATH, and building as a user (uid {uid}) needs it to map ids into a user namespace"
    )]
    MissingTool {
        /// The program.
        tool: &'static str,
        /// The user's uid.
        uid: u32,
    },
    /// `/etc/subuid` or `/etc/subgid` could not be read.
    #[error("cannot read {}", path.display())]
    ReadIds {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The user has no large enough subordinate range.
    #[error("{} gives {user} {}", path.display(), describe_ranges(found))]
    NoRange {
        /// `/etc/subuid` or `/etc/subgid`.
        path: PathBuf,
        /// The user's name, or uid when it has none.
        user: String,
        /// The ranges the file gives the user, all too small.
        found: Vec<IdRange>,
    },
    /// The kernel refused to create the user namespace.
    #[error("cannot create a user namespace{}", why.as_deref().map(|w| format!(": {w}")).unwrap_or_default())]
    Unshare {
        /// What the machine's settings say, when they explain it.
        why: Option<String>,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `newuidmap` or `newgidmap` failed.
    #[error("`{command}` failed ({status}): {output}")]
    Map {
        /// The command line.
        command: String,
        /// How it ended.
        status: ExitStatus,
        /// What it printed.
        output: String,
    },
    /// A process or pipe of the handshake could not be made or used.
    #[error("cannot {what}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// In the child: the parent reports what went wrong (it stopped the handshake, or
    /// was told the child's error); the child has nothing to add.
    #[error("the user namespace was not set up (the parent process says why)")]
    ReportedByParent,
}

impl UsernsError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            UsernsError::MissingTool { .. } => Some(
                "install the `uidmap` package (Debian: apt-get install uidmap), or build as root"
                    .into(),
            ),
            UsernsError::NoRange { path, user, .. } => Some(format!(
                "give {user} {MIN_IDS} subordinate uids and gids no other user has, e.g. \
                 `sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user}` \
                 ({} must list at least {MIN_IDS} ids), or build as root",
                path.display()
            )),
            UsernsError::Unshare { .. } => Some(
                "allow unprivileged user namespaces (`sysctl kernel.unprivileged_userns_clone=1` \
                 where that setting exists, `sysctl user.max_user_namespaces=15000`); in a \
                 container, its seccomp profile may forbid them: build as root there"
                    .into(),
            ),
            UsernsError::Map { .. } => Some(
                "newuidmap and newgidmap must be set-uid root (or have the file capabilities \
                 cap_setuid and cap_setgid) on a file system mounted without nosuid; their \
                 message says what they refused"
                    .into(),
            ),
            _ => None,
        }
    }

    /// Whether this is a failure of the machine's processes or pipes rather than of its
    /// configuration (exit code 3 rather than 2).
    pub fn is_internal(&self) -> bool {
        matches!(self, UsernsError::Io { .. } | UsernsError::ReportedByParent)
    }
}

fn describe_ranges(found: &[IdRange]) -> String {
    if found.is_empty() {
        return "no subordinate ids".into();
    }
    let list: Vec<String> = found
        .iter()
        .map(|r| format!("{}:{}", r.start, r.count))
        .collect();
    format!(
        "only {} (fewer than {MIN_IDS} ids in one range)",
        list.join(", ")
    )
}

/// A range of subordinate ids: `start`, `start + 1`, … (`count` of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// The first id.
    pub start: u32,
    /// How many.
    pub count: u32,
}

/// The ranges `/etc/subuid`-format `text` gives the user named `user` (when it has a
/// name) or numbered `uid`, in file order. Lines that are not `OWNER:START:COUNT` with
/// numbers that fit are skipped, as shadow's tools skip them.
pub fn ranges_of(text: &str, user: Option<&str>, uid: u32) -> Vec<IdRange> {
    let uid = uid.to_string();
    text.lines()
        .filter_map(|line| {
            let mut f = line.trim().split(':');
            let (owner, start, count) = (f.next()?, f.next()?, f.next()?);
            if f.next().is_some() || !(Some(owner) == user || owner == uid) {
                return None;
            }
            let (start, count) = (start.parse::<u32>().ok()?, count.parse::<u32>().ok()?);
            start.checked_add(count)?;
            Some(IdRange { start, count })
        })
        .collect()
}

/// The first range of `ranges` with at least [`MIN_IDS`] ids.
pub fn usable_range(ranges: &[IdRange]) -> Option<IdRange> {
    ranges.iter().find(|r| r.count >= MIN_IDS).map(|r| IdRange {
        start: r.start,
        count: MIN_IDS,
    })
}

/// The name `/etc/passwd`-format `text` gives `uid`.
pub fn user_name(text: &str, uid: u32) -> Option<String> {
    text.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let id = f.nth(1)?;
        (id.parse() == Ok(uid)).then(|| name.to_string())
    })
}

/// Whether this process is root (of the machine, or of the user namespace it is in).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The exit code a shell would report for `status`: its code, or 128 + the signal.
pub fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(c), _) => u8::try_from(c).unwrap_or(u8::MAX),
        (None, Some(s)) => u8::try_from(128 + s).unwrap_or(u8::MAX),
        _ => u8::MAX,
    }
}

/// The range `path` gives the user, or why there is none.
fn subordinate_range(path: &Path, user: Option<&str>, uid: u32) -> Result<IdRange, UsernsError> {
    let text = match fs_err::read_to_string(path) {
        Ok(t) => t,
        // No file is no range.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(UsernsError::ReadIds {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let found = ranges_of(&text, user, uid);
    usable_range(&found).ok_or_else(|| UsernsError::NoRange {
        path: path.to_path_buf(),
        user: user.map_or_else(|| format!("uid {uid}"), str::to_string),
        found,
    })
}

/// `tool`'s path on `PATH`.
fn find_tool(tool: &'static str, uid: u32) -> Result<PathBuf, UsernsError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| {
            fs_err::metadata(p).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
        .ok_or(UsernsError::MissingTool { tool, uid })
}

fn io_err(what: &'static str) -> impl Fn(std::io::Error) -> UsernsError {
    move |source| UsernsError::Io { what, source }
}

/// Runs this program again, with the same arguments, as root of a new user namespace
/// (see the module's documentation), and returns how it ended. Call it only when not
/// root ([`is_root`]); the child must call [`enter_if_child`] first thing in `main`.
///
/// Fails before starting anything when `newuidmap`/`newgidmap` are missing or the user
/// has no subordinate ids, and with the kernel's reason when it refuses the namespace.
pub fn rerun_as_namespace_root() -> Result<ExitStatus, UsernsError> {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let passwd = fs_err::read_to_string("/etc/passwd").unwrap_or_default();
    let user = user_name(&passwd, uid);
    let uids = subordinate_range(Path::new("/etc/subuid"), user.as_deref(), uid)?;
    let gids = subordinate_range(Path::new("/etc/subgid"), user.as_deref(), uid)?;
    let newuidmap = find_tool("newuidmap", uid)?;
    let newgidmap = find_tool("newgidmap", uid)?;

    // Two pipes: the child says whether it unshared; the parent says the maps are
    // written. The child's ends get numbers above stderr, and lose close-on-exec only
    // in the child (the pre_exec hook), so no other process inherits them.
    let pipe_err = io_err("make a pipe to the user namespace's process");
    let (mut from_child, child_w) = std::io::pipe().map_err(&pipe_err)?;
    let (child_r, mut to_child) = std::io::pipe().map_err(&pipe_err)?;
    let above_stderr = |fd: OwnedFd| {
        rustix::io::fcntl_dupfd_cloexec(&fd, FIRST_FD).map_err(|e| pipe_err(e.into()))
    };
    let child_w = above_stderr(child_w.into())?;
    let child_r = above_stderr(child_r.into())?;
    let marker = format!(
        "{}:{}:{}",
        rustix::process::getpid().as_raw_nonzero(),
        child_r.as_raw_fd(),
        child_w.as_raw_fd()
    );
    let mut args = std::env::args_os();
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg0(args.next().unwrap_or_else(|| "plinth".into()))
        .args(args)
        .env(CHILD_ENV, marker);
    let fds: [OwnedFd; 2] = [child_r, child_w];
    let hook = move || -> std::io::Result<()> {
        for fd in &fds {
            rustix::io::fcntl_setfd(fd, FdFlags::empty())?;
        }
        Ok(())
    };
    // SAFETY: the hook only makes fcntl system calls on fds opened before the fork; it
    // neither allocates nor takes a lock, as `pre_exec` requires.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(hook);
    }
    let mut child = cmd.spawn().map_err(io_err("run this program again"))?;
    // Our copies of the child's ends close with the hook, so that each side sees the
    // other's end of file when it dies.
    drop(cmd);
    let pid = child.id();

    // Until the child is released, any failure drops `to_child`: the child reads end
    // of file and ends quietly, and the error is reported here.
    let mut word = [0u8; 4];
    let told = from_child.read_exact(&mut word);
    drop(from_child);
    if told.is_err() {
        // The child ended before saying anything (it printed why).
        drop(to_child);
        return child
            .wait()
            .map_err(io_err("wait for the user namespace's process"));
    }
    let errno = i32::from_le_bytes(word);
    if errno != 0 {
        drop(to_child);
        let _ = child.wait();
        return Err(UsernsError::Unshare {
            why: namespaces_disabled(),
            source: std::io::Error::from_raw_os_error(errno),
        });
    }
    let maps = [(&newuidmap, uid, uids), (&newgidmap, gid, gids)];
    for (tool, own, range) in maps {
        let args = [
            pid.to_string(),
            "0".into(),
            own.to_string(),
            "1".into(),
            "1".into(),
            range.start.to_string(),
            range.count.to_string(),
        ];
        let out = Command::new(tool).args(&args).output();
        let failed = match out {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(UsernsError::Map {
                command: format!("{} {}", tool.display(), args.join(" ")),
                status: o.status,
                output: String::from_utf8_lossy(&o.stderr).trim().to_string(),
            }),
            Err(source) => Some(UsernsError::Io {
                what: "run newuidmap/newgidmap",
                source,
            }),
        };
        if let Some(e) = failed {
            drop(to_child);
            let _ = child.wait();
            return Err(e);
        }
    }

    // From here this process outlives the child: the signals that would end it go to
    // the child, whose end is ours. (Without pidfds, before Linux 5.3, they end this
    // process, and the child then gets the death signal it set.)
    let forwarder = forward_signals(&child);
    // A child that died meanwhile cannot read this; its status says how it ended.
    let _ = to_child.write_all(b"1");
    drop(to_child);
    let status = child
        .wait()
        .map_err(io_err("wait for the user namespace's process"));
    if let Some(handle) = forwarder {
        handle.close();
    }
    status
}

/// Sends the child the `SIGINT`, `SIGTERM` and `SIGHUP` this process gets, from a thread,
/// through a pidfd (which cannot name another process once the child is reaped). The
/// terminal sends `SIGINT` to both already; a second one changes nothing.
fn forward_signals(child: &std::process::Child) -> Option<signal_hook::iterator::Handle> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let pid = Pid::from_raw(i32::try_from(child.id()).ok()?)?;
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()?;
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]).ok()?;
    let handle = signals.handle();
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let sig = match sig {
                SIGINT => Signal::INT,
                SIGTERM => Signal::TERM,
                _ => Signal::HUP,
            };
            let _ = rustix::process::pidfd_send_signal(&pidfd, sig);
        }
    });
    Some(handle)
}

/// Why the machine refuses unprivileged user namespaces, when a setting says so.
fn namespaces_disabled() -> Option<String> {
    let read = |p: &str| fs_err::read_to_string(p).ok().map(|s| s.trim().to_string());
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return Some("kernel.unprivileged_userns_clone is 0".into());
    }
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return Some("user.max_user_namespaces is 0".into());
    }
    None
}

/// In the child of [`rerun_as_namespace_root`] (the environment says so, and names this
/// process's parent): enters a new user namespace, waits for the parent to map it, and
/// becomes its root; returns `true` then. Anywhere else it does nothing and returns
/// `false`.
///
/// Call it first thing in `main`: the kernel makes a user namespace only for a process
/// with one thread. [`UsernsError::ReportedByParent`] means the parent reports what
/// went wrong: end quietly.
pub fn enter_if_child() -> Result<bool, UsernsError> {
    let Some(marker) = std::env::var_os(CHILD_ENV) else {
        return Ok(false);
    };
    let Some((ppid, read_fd, write_fd)) = parse_marker(&marker.to_string_lossy()) else {
        return Ok(false);
    };
    if rustix::process::getppid()
        .map(Pid::as_raw_nonzero)
        .map(|p| p.get())
        != Some(ppid)
    {
        // Someone else's marker, inherited: not ours to act on.
        return Ok(false);
    }
    // SAFETY: the parent named these fds in the marker for this process only (checked
    // above: it is our parent); it opened them for us and nothing else here uses them.
    #[allow(unsafe_code)]
    let (from_parent, to_parent) = unsafe {
        (
            std::io::PipeReader::from(OwnedFd::from_raw_fd(read_fd)),
            std::io::PipeWriter::from(OwnedFd::from_raw_fd(write_fd)),
        )
    };
    let (mut from_parent, mut to_parent) = (from_parent, to_parent);
    // SAFETY: a new user namespace changes nothing another thread relies on, and the
    // kernel refuses it (EINVAL) to a process with more than one thread.
    #[allow(unsafe_code)]
    let unshared = unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWUSER) };
    let errno = match &unshared {
        Ok(()) => 0,
        Err(e) => e.raw_os_error(),
    };
    if to_parent.write_all(&errno.to_le_bytes()).is_err() || unshared.is_err() {
        return Err(UsernsError::ReportedByParent);
    }
    drop(to_parent);
    let mut go = [0u8; 1];
    if from_parent.read_exact(&mut go).is_err() {
        return Err(UsernsError::ReportedByParent);
    }
    drop(from_parent);
    // One thread (the unshare proved it): the per-thread system calls set the process's
    // ids. The group ids first, while allowed to.
    let root = || -> rustix::io::Result<()> {
        let (uid0, gid0) = (rustix::process::Uid::ROOT, rustix::process::Gid::ROOT);
        rustix::thread::set_thread_res_gid(gid0, gid0, gid0)?;
        rustix::thread::set_thread_groups(&[])?;
        rustix::thread::set_thread_res_uid(uid0, uid0, uid0)?;
        // If the parent dies, so does the build (changing ids cleared the setting).
        rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
        Ok(())
    };
    root().map_err(|e| UsernsError::Io {
        what: "become root of the user namespace",
        source: e.into(),
    })?;
    if rustix::process::getppid().map(|p| p.as_raw_nonzero().get()) != Some(ppid) {
        // The parent died before the death signal was set.
        return Err(UsernsError::ReportedByParent);
    }
    // SAFETY: one thread (see above), so nothing reads the environment meanwhile. The
    // marker goes so that nothing this process runs takes it for its own.
    #[allow(unsafe_code)]
    unsafe {
        std::env::remove_var(CHILD_ENV);
    }
    Ok(true)
}

/// `PARENT_PID:READ_FD:WRITE_FD`, fds above stderr.
fn parse_marker(s: &str) -> Option<(i32, RawFd, RawFd)> {
    let mut f = s.split(':');
    let ppid = f.next()?.parse().ok()?;
    let r: RawFd = f.next()?.parse().ok()?;
    let w: RawFd = f.next()?.parse().ok()?;
    (f.next().is_none() && r >= FIRST_FD && w >= FIRST_FD && r != w).then_some((ppid, r, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBUID: &str = "\
alice:100000:65536
# a comment
bob:165536:1000
bob:300000:70000
1001:400000:65536
broken:line
carol:x:65536
dave:4294967000:65536
";

    #[test]
    fn ranges_are_found_by_name_or_uid_in_file_order() {
        assert_eq!(
            ranges_of(SUBUID, Some("bob"), 1000),
            [
                IdRange {
                    start: 165536,
                    count: 1000
                },
                IdRange {
                    start: 300000,
                    count: 70000
                }
            ]
        );
        assert_eq!(
            ranges_of(SUBUID, Some("erin"), 1001),
            [IdRange {
                start: 400000,
                count: 65536
            }]
        );
        assert_eq!(ranges_of(SUBUID, None, 1001).len(), 1);
    }

    #[test]
    fn the_first_range_large_enough_is_used_and_only_what_is_needed() {
        let bob = ranges_of(SUBUID, Some("bob"), 1000);
        assert_eq!(
            usable_range(&bob),
            Some(IdRange {
                start: 300000,
                count: MIN_IDS
            })
        );
        assert_eq!(
            usable_range(&ranges_of(SUBUID, Some("alice"), 1002)),
            Some(IdRange {
                start: 100000,
                count: MIN_IDS
            })
        );
    }

    #[test]
    fn malformed_and_overflowing_lines_give_no_range() {
        assert!(ranges_of(SUBUID, Some("broken"), 7).is_empty());
        assert!(ranges_of(SUBUID, Some("carol"), 7).is_empty());
        assert!(ranges_of(SUBUID, Some("dave"), 7).is_empty());
        assert!(ranges_of("", Some("alice"), 7).is_empty());
    }

    #[test]
    fn too_small_or_missing_ranges_are_errors_that_say_so_and_how_to_fix_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subuid");
        fs_err::write(&path, "bob:165536:1000\n").unwrap();
        let e = subordinate_range(&path, Some("bob"), 1000).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("gives bob only 165536:1000"), "{msg}");
        assert!(e.hint().unwrap().contains("usermod --add-subuids"), "{e:?}");
        assert!(!e.is_internal());

        let e = subordinate_range(&path, None, 1234).unwrap_err();
        assert!(
            e.to_string().contains("gives uid 1234 no subordinate ids"),
            "{e}"
        );

        let e = subordinate_range(&dir.path().join("absent"), Some("bob"), 1000).unwrap_err();
        assert!(matches!(e, UsernsError::NoRange { .. }), "{e:?}");

        let e = subordinate_range(dir.path(), Some("bob"), 1000).unwrap_err();
        assert!(matches!(e, UsernsError::ReadIds { .. }), "{e:?}");
    }

    #[test]
    fn user_names_come_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nbob:x:1000:1000::/home/bob:/bin/sh\n";
        assert_eq!(user_name(passwd, 1000).as_deref(), Some("bob"));
        assert_eq!(user_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_name(passwd, 1001), None);
    }

    #[test]
    fn a_missing_id_mapper_is_named_with_the_package_to_install() {
        let e = UsernsError::MissingTool {
            tool: "newuidmap",
            uid: 1000,
        };
        assert!(e.to_string().contains("`newuidmap` is not on PATH"));
        assert!(e.hint().unwrap().contains("uidmap"));
        assert!(find_tool("plinth-no-such-tool", 1000).is_err());
    }

    #[test]
    fn markers_name_a_parent_and_two_fds_above_stderr() {
        assert_eq!(parse_marker("123:3:4"), Some((123, 3, 4)));
        assert_eq!(parse_marker("123:2:4"), None);
        assert_eq!(parse_marker("123:4:4"), None);
        assert_eq!(parse_marker("123:3"), None);
        assert_eq!(parse_marker("123:3:4:5"), None);
        assert_eq!(parse_marker("x:3:4"), None);
    }

    #[test]
    fn outside_a_child_entering_does_nothing() {
        // The test runner's environment has no marker.
        assert!(std::env::var_os(CHILD_ENV).is_none());
        assert!(!enter_if_child().unwrap());
    }

    #[test]
    fn exit_codes_are_the_shells() {
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(15)), 128 + 15);
    }
}
