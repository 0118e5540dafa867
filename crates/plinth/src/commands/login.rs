//! `plinth login REGISTRY` and `plinth logout REGISTRY`: credentials in docker's
//! config.json (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), as
//! `docker login` writes them.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use plinth_registry::auth::config::{docker_config_path, login, logout};

use crate::render::CliError;

#[derive(clap::Args)]
pub struct LoginArgs {
    /// The registry host (`ghcr.io`, `127.0.0.1:5000`, `docker.io`)
    registry: String,
    /// The user name
    #[arg(short, long)]
    username: Option<String>,
    /// Read the password (or token) from standard input [default: ask on the terminal]
    #[arg(long)]
    password_stdin: bool,
}

#[derive(clap::Args)]
pub struct LogoutArgs {
    /// The registry host
    registry: String,
}

/// `docker.io`, `index.docker.io` and `https://index.docker.io/v1/` are one registry.
fn registry_name(arg: &str) -> Result<String, CliError> {
    let a = arg
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let a = a
        .strip_suffix("/v1")
        .or_else(|| a.strip_suffix("/v2"))
        .unwrap_or(a);
    let r = plinth_registry::Reference::parse(&format!("{a}/x"))
        .map_err(|_| CliError::input(format!("`{arg}` is not a registry host"), None))?;
    if r.repository != "x" && r.repository != "library/x" {
        return Err(CliError::input(
            format!("`{arg}` is not a registry host"),
            None,
        ));
    }
    Ok(r.registry)
}

pub fn run_login(args: LoginArgs) -> Result<ExitCode, CliError> {
    let registry = registry_name(&args.registry)?;
    let username = match args.username {
        Some(u) => u,
        None => {
            return Err(CliError::input(
                "a user name is needed: -u USER",
                Some("plinth login REGISTRY -u USER --password-stdin < token-file".into()),
            ));
        }
    };
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map_err(|e| {
            CliError::input(
                format!("cannot read the password from standard input: {e}"),
                None,
            )
        })?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("Password for {username}@{registry}: ")).map_err(
            |e| {
                CliError::input(
                    format!("cannot read the password from the terminal: {e}"),
                    None,
                )
            },
        )?
    } else {
        return Err(CliError::input(
            "no terminal to ask for the password: pass it on standard input with --password-stdin",
            Some("echo \"$TOKEN\" | plinth login REGISTRY -u USER --password-stdin".into()),
        ));
    };
    if password.is_empty() {
        return Err(CliError::input("the password is empty", None));
    }
    let probe = plinth_registry::Reference::parse(&format!("{registry}/plinth-login-check"))?;
    crate::registry::client().check_login(
        &probe,
        plinth_registry::auth::config::Credential::Basic {
            username: username.clone(),
            password: password.clone(),
        },
    )?;
    let path = docker_config_path();
    login(&path, &registry, &username, &password).map_err(plinth_registry::Error::from)?;
    eprintln!("Login for {registry} stored in {}", path.display());
    Ok(ExitCode::SUCCESS)
}

pub fn run_logout(args: LogoutArgs) -> Result<ExitCode, CliError> {
    let registry = registry_name(&args.registry)?;
    let path = docker_config_path();
    if logout(&path, &registry).map_err(plinth_registry::Error::from)? {
        eprintln!("Removed the login for {registry} from {}", path.display());
    } else {
        eprintln!("No login for {registry} in {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
