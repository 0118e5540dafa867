//! The binary's side of registries: one client per run (with `--insecure`), and the
//! dispatch that lets every command reading an image take a registry reference.

use std::sync::{Arc, OnceLock};

use plinth_registry::{Client, ClientOptions, Location, RegistrySource, classify};
use plinth_sbom::{Subject, SubjectKind};

use crate::render::CliError;

static INSECURE: OnceLock<bool> = OnceLock::new();
static CLIENT: OnceLock<Arc<Client>> = OnceLock::new();

/// Records `--insecure` (the global flag) before any client is made.
pub fn set_insecure(insecure: bool) {
    let _ = INSECURE.set(insecure);
}

/// The run's registry client.
pub fn client() -> Arc<Client> {
    CLIENT
        .get_or_init(|| {
            Arc::new(Client::new(ClientOptions {
                insecure: INSECURE.get().copied().unwrap_or(false),
                ..ClientOptions::default()
            }))
        })
        .clone()
}

impl From<plinth_registry::Error> for CliError {
    fn from(e: plinth_registry::Error) -> Self {
        let hint = e.hint();
        if e.is_internal() {
            CliError::internal(e, hint)
        } else {
            CliError::input(e, hint)
        }
    }
}

impl From<plinth_registry::reference::ParseError> for CliError {
    fn from(e: plinth_registry::reference::ParseError) -> Self {
        CliError::input(e, None)
    }
}

/// A registry reference opened lazily, or `None` when `reference` names something on
/// disk (see [`plinth_registry::classify`]).
pub fn open_remote(reference: &str) -> Result<Option<RegistrySource>, CliError> {
    match classify(reference)? {
        Location::Local(_) => Ok(None),
        Location::Remote(r) => Ok(Some(RegistrySource::open(client(), &r)?)),
    }
}

/// Whether a failure while reading a registry image lazily (a layer fetched from inside
/// `plinth_oci`, which carries the registry's error as the cause of a read error) is
/// the registry's fault rather than the input's: exit 3 then, as for `pull`.
pub fn remote_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    plinth_registry::is_remote_failure(e)
}

/// A lazy read's error, exit 3 when the registry failed.
pub fn lazy_error<E>(e: E) -> CliError
where
    E: std::error::Error + 'static,
    CliError: From<E>,
{
    let internal = remote_failure(&e);
    let mut c = CliError::from(e);
    if internal {
        c.code = crate::render::INTERNAL;
    }
    c
}

/// The subject (squashed image) of `reference`: from a registry when it names one,
/// else from disk; through the layer cache when `cache` is true (and `PLINTH_NO_CACHE`
/// is not set).
pub fn open_subject(
    reference: &str,
    platform: Option<&str>,
    cache: bool,
) -> Result<Subject, CliError> {
    let opts = plinth_sbom::subject::fs_options_cached(cache);
    match open_remote(reference)? {
        None => Ok(plinth_sbom::subject::open_with(reference, platform, &opts)?),
        Some(src) => plinth_sbom::subject::from_source(
            &src,
            None,
            reference,
            platform,
            SubjectKind::Registry,
            &opts,
        )
        .map_err(lazy_error),
    }
}
