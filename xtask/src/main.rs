//! `cargo xtask`: the project's commands. It only parses options and wires the
//! library crates together; every algorithm lives in a library crate.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod choice;
mod fetch;
mod graph;
mod predict;
mod report;
mod train;

/// backprop's project commands (run them as `cargo xtask <command>`).
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Download (or copy from a mirror) and verify an MNIST-family data set.
    FetchMnist(fetch::FetchArgs),
    /// Train the two-layer net (fetches the data if missing), write metrics, plots and the report.
    Train(Box<train::TrainArgs>),
    /// Compare backprop against numerical gradients on three training images.
    Gradcheck(train::GradcheckArgs),
    /// Test accuracy and confusion matrix of a saved model.
    Eval(train::EvalArgs),
    /// Draw a computational graph with its values and gradients (SVG and PNG).
    Graph(graph::GraphArgs),
    /// Class and probabilities of your own digits (PNG or JPEG) by a saved model.
    Predict(predict::PredictArgs),
    /// Rewrite a run's report.html (from its metrics.json, model and the test set).
    Report(report::ReportArgs),
    /// Time whole default training runs (release build) and report medians.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version go to stdout with exit 0; a bad option is one message, exit 1.
        Err(err) if !err.use_stderr() => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            let _ = err.print();
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::FetchMnist(args) => fetch::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Gradcheck(args) => train::gradcheck(&args),
        Command::Eval(args) => train::eval(&args),
        Command::Graph(args) => graph::run(&args),
        Command::Predict(args) => predict::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
