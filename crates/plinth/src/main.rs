//! The `plinth` command line. Each verb lives in `commands/`: it parses its arguments,
//! calls one library function and renders the result.
//!
//! Exit codes: 0 ok; 1 a check found something; 2 usage or input error; 3 a failure that
//! is not the input's fault (an output that cannot be written, a bug): see `render`.

mod args;
mod commands;
mod progress;
mod registry;
mod render;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "plinth",
    version,
    about = "Small, reproducible, verifiable container base images"
)]
#[command(
    after_help = "Exit codes: 0 ok, 1 a check found something, 2 usage or input error, 3 internal error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Talk to registries that are not on a loopback address without verifying their
    /// TLS certificate, or in plain HTTP when they do not speak TLS
    #[arg(long, global = true)]
    insecure: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Build an image from a spec (plinth.toml)
    Build(commands::build::Args),
    /// Show an image's manifest, config, layers and files
    Inspect(commands::inspect::Args),
    /// Resolve a Debian-based spec's packages into plinth.lock
    Lock(commands::lock::Args),
    /// Show why a Debian package is in the image
    Why(commands::why::Args),
    /// List what is inside an image or root filesystem (SPDX, CycloneDX, table, JSON)
    Sbom(commands::sbom::Args),
    /// Compare images side by side: size, packages, shell, package manager, user, …
    Compare(commands::compare::Args),
    /// Check an image against a hardening policy; exit 1 when a rule fails
    Check(commands::check::Args),
    /// Find known vulnerabilities in an image or SBOM; exit 1 with --fail-on
    Scan(commands::scan::Args),
    /// Manage the vulnerability database: update, import, status
    Db(commands::db::Args),
    /// Pull an image from a registry into a layout directory or an archive
    Pull(commands::pull::Args),
    /// Push an image on disk to a registry
    Push(commands::push::Args),
    /// Copy an image between registries, layout directories and archives
    Copy(commands::copy::Args),
    /// Run an OCI registry on local disk
    Serve(commands::serve::Args),
    /// Store credentials for a registry in docker's config.json
    Login(commands::login::LoginArgs),
    /// Remove a registry's credentials from docker's config.json
    Logout(commands::login::LogoutArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(commands::completions::Args),
    /// Print the manual page in roff, or write one page per command with --dir
    Man(commands::man::Args),
}

fn main() -> ExitCode {
    // A build re-run in a user namespace (`commands::build`) becomes its root here, first
    // of all: the kernel makes a user namespace only for a process with one thread.
    if let Err(e) = plinth_sandbox::userns::enter_if_child() {
        let quiet = matches!(e, plinth_sandbox::userns::UsernsError::ReportedByParent);
        let e = render::CliError::from(e);
        if !quiet {
            render::error(&e);
        }
        return ExitCode::from(e.exit_code());
    }
    render::install_panic_hook();
    let cli = Cli::parse();
    // A mistake in PLINTH_LIMITS is said at once, not silently replaced by the defaults.
    if let Err(e) = plinth_oci::limits::init_from_env() {
        let e = render::CliError::from(e);
        render::error(&e);
        return ExitCode::from(e.exit_code());
    }
    registry::set_insecure(cli.insecure);
    let result = match cli.command {
        Command::Build(a) => commands::build::run(a),
        Command::Inspect(a) => commands::inspect::run(a),
        Command::Lock(a) => commands::lock::run(a),
        Command::Why(a) => commands::why::run(a),
        Command::Sbom(a) => commands::sbom::run(a),
        Command::Compare(a) => commands::compare::run(a),
        Command::Check(a) => commands::check::run(a),
        Command::Scan(a) => commands::scan::run(a),
        Command::Db(a) => commands::db::run(a),
        Command::Pull(a) => commands::pull::run(a),
        Command::Push(a) => commands::push::run(a),
        Command::Copy(a) => commands::copy::run(a),
        Command::Serve(a) => commands::serve::run(a),
        Command::Login(a) => commands::login::run_login(a),
        Command::Logout(a) => commands::login::run_logout(a),
        Command::Completions(a) => commands::completions::run(a, Cli::command()),
        Command::Man(a) => commands::man::run(a, Cli::command()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            render::error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}
