//! `cargo xtask fetch-mnist`, and the data options every data-reading command shares.

/// Options of `fetch-mnist`.
#[derive(clap::Args)]
pub struct FetchArgs {}

/// Runs `fetch-mnist`.
pub fn run(_args: &FetchArgs) -> anyhow::Result<()> {
    anyhow::bail!("fetch-mnist is not implemented yet")
}
