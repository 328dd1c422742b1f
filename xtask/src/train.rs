//! `cargo xtask train`, `gradcheck` and `eval`.

/// Options of `train`.
#[derive(clap::Args)]
pub struct TrainArgs {}

/// Options of `gradcheck`.
#[derive(clap::Args)]
pub struct GradcheckArgs {}

/// Options of `eval`.
#[derive(clap::Args)]
pub struct EvalArgs {}

/// Runs `train`.
pub fn run(_args: &TrainArgs) -> anyhow::Result<()> {
    anyhow::bail!("train is not implemented yet")
}

/// Runs `gradcheck`.
pub fn gradcheck(_args: &GradcheckArgs) -> anyhow::Result<()> {
    anyhow::bail!("gradcheck is not implemented yet")
}

/// Runs `eval`.
pub fn eval(_args: &EvalArgs) -> anyhow::Result<()> {
    anyhow::bail!("eval is not implemented yet")
}
