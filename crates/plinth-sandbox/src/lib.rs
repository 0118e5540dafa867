//! Running a distribution's own tools (dpkg and the maintainer scripts it runs) inside an
//! image's root file system, the way Debian's tools do it: in a private mount namespace,
//! with the host's harmless device nodes bound in, `/proc` mounted, then `chroot`.
//!
//! Nothing mounted outlives the command: the mounts belong to a mount namespace that
//! dies with the last process in it, so a failed or killed build leaves no mount behind
//! on the host. What this crate creates in the root (empty files the device nodes are
//! bound onto) it removes afterwards.
//!
//! It needs root: real root, or root of a user namespace (see [`userns`]), as
//! mmdebstrap's `root` and `unshare` modes.

#![deny(missing_docs)]

pub mod userns;

use std::ffi::CString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use rustix::mount::{MountFlags, MountPropagationFlags};

/// What went wrong setting up or running a command in the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Not root, and not root of a user namespace.
    #[error("running maintainer scripts needs root or a user namespace (running as uid {uid})")]
    NotRoot {
        /// The effective uid.
        uid: u32,
    },
    /// The root directory is missing or not a directory.
    #[error("{}: not a directory to chroot into", .0.display())]
    NoRoot(PathBuf),
    /// A file of the sandbox could not be made or removed.
    #[error("cannot prepare {}: {source}", path.display())]
    Prepare {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The command could not be started (the namespace, a mount, the chroot or exec).
    #[error("cannot run `{command}` in {}: {source}", root.display())]
    Spawn {
        /// The command, as given.
        command: String,
        /// The root.
        root: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// How a command ended and what it printed.
#[derive(Debug)]
pub struct RunOutput {
    /// Its exit status.
    pub status: ExitStatus,
    /// Standard output and standard error, interleaved as written; the last
    /// [`OUTPUT_KEPT`] bytes when it printed more.
    pub output: Vec<u8>,
}

impl RunOutput {
    /// `exit code N` or `killed by signal N`.
    pub fn describe(&self) -> String {
        match (self.status.code(), self.status.signal()) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            _ => "an unknown status".into(),
        }
    }
}

/// How much of a command's output is kept (its end: where the error is).
pub const OUTPUT_KEPT: usize = 64 * 1024;

/// The device nodes a Debian system expects under `/dev` while it installs, bound from
/// the host's (all of them are harmless: no disk, no terminal of the host).
const DEVICES: [&str; 5] = ["null", "zero", "full", "random", "urandom"];

/// A root file system commands can run in.
#[derive(Debug, Clone)]
pub struct Chroot {
    root: PathBuf,
}

impl Chroot {
    /// A sandbox over `root`. Fails when the process is not root (of the machine or of a
    /// user namespace) or `root` is not a directory.
    pub fn new(root: &Path) -> Result<Self, SandboxError> {
        let uid = rustix::process::geteuid().as_raw();
        if uid != 0 {
            return Err(SandboxError::NotRoot { uid });
        }
        if !root.is_dir() {
            return Err(SandboxError::NoRoot(root.to_path_buf()));
        }
        Ok(Chroot {
            root: root.to_path_buf(),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Runs `argv` (an absolute path inside the root, then its arguments) with exactly
    /// the environment `env`, stdin from `/dev/null`, and waits for it. A command that
    /// runs and fails is not an error: look at [`RunOutput::status`].
    pub fn run(&self, argv: &[&str], env: &[(&str, &str)]) -> Result<RunOutput, SandboxError> {
        let command = argv.join(" ");
        let spawn_err = |source| SandboxError::Spawn {
            command: command.clone(),
            root: self.root.clone(),
            source,
        };
        let Some((program, args)) = argv.split_first() else {
            return Err(spawn_err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "no command",
            )));
        };
        let placeholders = self.device_placeholders()?;
        let result = self.spawn(program, args, env).map_err(spawn_err);
        let cleanup = remove_placeholders(&placeholders);
        let out = result?;
        cleanup?;
        Ok(out)
    }

    /// Makes the empty files the device nodes are bound onto; returns those it made.
    fn device_placeholders(&self) -> Result<Vec<PathBuf>, SandboxError> {
        let dev = self.root.join("dev");
        let prep = |path: &Path, source| SandboxError::Prepare {
            path: path.to_path_buf(),
            source,
        };
        if fs_err::symlink_metadata(&dev).is_err() {
            fs_err::create_dir(&dev).map_err(|e| prep(&dev, e))?;
        }
        let mut made = Vec::new();
        for d in DEVICES {
            let p = dev.join(d);
            match fs_err::symlink_metadata(&p) {
                Ok(m) if m.is_file() => {}
                Ok(_) => {
                    return Err(prep(
                        &p,
                        std::io::Error::new(
                            std::io::ErrorKind::AlreadyExists,
                            "the image has something else here",
                        ),
                    ));
                }
                Err(_) => {
                    fs_err::File::create(&p).map_err(|e| prep(&p, e))?;
                    made.push(p);
                }
            }
        }
        Ok(made)
    }

    fn spawn(
        &self,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> std::io::Result<RunOutput> {
        let cstr = |p: &Path| {
            CString::new(p.as_os_str().as_bytes()).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "a path holds a NUL byte")
            })
        };
        let root = cstr(&self.root)?;
        let binds: Vec<(CString, CString)> = DEVICES
            .iter()
            .map(|d| {
                Ok((
                    cstr(&Path::new("/dev").join(d))?,
                    cstr(&self.root.join("dev").join(d))?,
                ))
            })
            .collect::<std::io::Result<_>>()?;
        let proc_dir = self.root.join("proc");
        let proc_target = proc_dir.is_dir().then(|| cstr(&proc_dir)).transpose()?;
        let (mut reader, writer) = std::io::pipe()?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(writer.try_clone()?)
            .stderr(writer);
        let setup = move || -> std::io::Result<()> {
            // SAFETY of what runs here: between fork and exec only system calls are made
            // (rustix calls the kernel directly) on strings made before the fork; nothing
            // allocates or takes a lock.
            // SAFETY: the child of a fork has one thread, and a new mount namespace
            // changes nothing another thread could rely on.
            #[allow(unsafe_code)]
            unsafe {
                rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS)?;
            }
            rustix::mount::mount_change(
                c"/",
                MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
            )?;
            for (src, dst) in &binds {
                rustix::mount::mount_bind(src.as_c_str(), dst.as_c_str())?;
            }
            if let Some(p) = &proc_target {
                // Best effort: a user namespace without its own PID namespace may not
                // mount proc, and dpkg does without it.
                let _ = rustix::mount::mount(
                    c"proc",
                    p.as_c_str(),
                    c"proc",
                    MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
                    None,
                );
            }
            rustix::process::chroot(root.as_c_str())?;
            rustix::process::chdir(c"/")?;
            Ok(())
        };
        // SAFETY: `setup` only makes system calls (see above), which is what `pre_exec`
        // requires of its hook.
        #[allow(unsafe_code)]
        unsafe {
            cmd.pre_exec(setup);
        }
        let mut child = spawn_when_not_busy(&mut cmd)?;
        // The command holds the pipe's write ends; ours close with `cmd`.
        drop(cmd);
        let mut output = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            output.extend_from_slice(&buf[..n]);
            if output.len() > 2 * OUTPUT_KEPT {
                output.drain(..output.len() - OUTPUT_KEPT);
            }
        }
        if output.len() > OUTPUT_KEPT {
            output.drain(..output.len() - OUTPUT_KEPT);
        }
        let status = child.wait()?;
        Ok(RunOutput { status, output })
    }
}

/// Spawns `cmd`, trying again for about a second while the kernel says its executable
/// is busy (ETXTBSY). An executable of the root that this process wrote (the essential
/// packages' files) stays "busy" while any child forked meanwhile, by another thread,
/// still holds the descriptor it was written through; that child lets it go when it
/// execs, within milliseconds.
fn spawn_when_not_busy(cmd: &mut Command) -> std::io::Result<std::process::Child> {
    let mut delay = std::time::Duration::from_millis(5);
    for _ in 0..8 {
        match cmd.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(delay);
                delay *= 2;
            }
            done => return done,
        }
    }
    cmd.spawn()
}

fn remove_placeholders(made: &[PathBuf]) -> Result<(), SandboxError> {
    for p in made {
        fs_err::remove_file(p).map_err(|source| SandboxError::Prepare {
            path: p.clone(),
            source,
        })?;
    }
    Ok(())
}

/// Whether binaries for `arch` (a Rust/uname-style name: `x86_64`, `aarch64`...) run on
/// this machine: natively, or through a registered binfmt_misc emulator.
pub fn can_run_arch(arch: &str) -> bool {
    if arch == std::env::consts::ARCH {
        return true;
    }
    let entry = Path::new("/proc/sys/fs/binfmt_misc").join(format!("qemu-{arch}"));
    fs_err::read_to_string(entry).is_ok_and(|s| s.lines().next() == Some("enabled"))
}
