//! `plinth push SRC REF`: a local image (layout, oci-archive, docker-archive) into a
//! registry.

use std::process::ExitCode;

use plinth_registry::copy::Endpoint;

use crate::render::CliError;

#[derive(clap::Args)]
pub struct Args {
    /// The image on disk: DIR[:TAG], an oci-archive or a docker-archive
    source: String,
    /// The registry reference to push to (`host:5000/name:tag`)
    reference: String,
    /// Output: the digest (`table`, the default) or the whole result (`json`, as --json)
    #[arg(long, value_enum)]
    format: Option<crate::args::TableOrJson>,
    #[command(flatten)]
    transfer: crate::commands::copy::TransferArgs,
}

pub fn run(mut args: Args) -> Result<ExitCode, CliError> {
    args.transfer.json |= args.format == Some(crate::args::TableOrJson::Json);
    let src = match Endpoint::source(&args.source)? {
        Endpoint::Registry(r) => {
            return Err(CliError::input(
                format!(
                    "no image at `{}` on disk (it reads as the registry reference {r})",
                    args.source
                ),
                Some("to copy between registries use `plinth copy`".into()),
            ));
        }
        e => e,
    };
    let dst = Endpoint::Registry(plinth_registry::Reference::parse(
        args.reference.trim_start_matches("docker://"),
    )?);
    crate::commands::copy::transfer(&src, &dst, &args.transfer)
}
