//! `cargo xtask graph apple|apple-orange|net`: records a computational graph
//! with bp-layers' trace, turns it into a bp-plot diagram and draws it as SVG
//! and PNG.

use std::path::{Path, PathBuf};

use anyhow::Context;
use bp_core::{Float, Targets};
use bp_layers::trace::{self, NodeKind, Trace};
use bp_layers::TwoLayerNet;
use bp_plot::graph::{plot_graph, Diagram, Edge, Node, NodeStyle};
use bp_train::{with_checkpoint, BatchBuffer, Checkpoint, CheckpointTask, TrainData, DEFAULT_SEED};
use rand::SeedableRng;

use crate::fetch::{load_data, workspace_root, DataArgs};

/// Training images in the net graph's batch (the first ones of the split).
const NET_BATCH: usize = 100;

/// Options of `graph`.
#[derive(clap::Args, Debug)]
pub struct GraphArgs {
    /// Which graph to draw.
    #[command(subcommand)]
    pub graph: Which,
}

/// The graphs `graph` draws.
#[derive(clap::Subcommand, Debug)]
pub enum Which {
    /// The book's figure 5-16: apples times their number, times tax.
    Apple(AppleArgs),
    /// The book's figure 5-17: apples and oranges, summed, times tax.
    AppleOrange(AppleOrangeArgs),
    /// The two-layer net's layers on one MNIST batch of 100 training images:
    /// shapes and Frobenius norms of every tensor and its gradient.
    Net(Box<NetArgs>),
}

/// Where the pictures go.
#[derive(clap::Args, Debug)]
pub struct OutArgs {
    /// Output directory [default: out/graph at the workspace root]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Options of `graph apple`.
#[derive(clap::Args, Debug)]
pub struct AppleArgs {
    /// Price of one apple.
    #[arg(long, default_value_t = 100.0, allow_hyphen_values = true)]
    pub apple: f64,
    /// Number of apples.
    #[arg(long, default_value_t = 2.0, allow_hyphen_values = true)]
    pub apple_num: f64,
    /// Tax factor.
    #[arg(long, default_value_t = 1.1, allow_hyphen_values = true)]
    pub tax: f64,
    /// Output directory.
    #[command(flatten)]
    pub out: OutArgs,
}

/// Options of `graph apple-orange`.
#[derive(clap::Args, Debug)]
pub struct AppleOrangeArgs {
    /// Price of one apple.
    #[arg(long, default_value_t = 100.0, allow_hyphen_values = true)]
    pub apple: f64,
    /// Number of apples.
    #[arg(long, default_value_t = 2.0, allow_hyphen_values = true)]
    pub apple_num: f64,
    /// Price of one orange.
    #[arg(long, default_value_t = 150.0, allow_hyphen_values = true)]
    pub orange: f64,
    /// Number of oranges.
    #[arg(long, default_value_t = 3.0, allow_hyphen_values = true)]
    pub orange_num: f64,
    /// Tax factor.
    #[arg(long, default_value_t = 1.1, allow_hyphen_values = true)]
    pub tax: f64,
    /// Output directory.
    #[command(flatten)]
    pub out: OutArgs,
}

/// Options of `graph net`.
#[derive(clap::Args, Debug)]
pub struct NetArgs {
    /// Which data set, where, and from where.
    #[command(flatten)]
    pub data: DataArgs,
    /// A checkpoint written by `cargo xtask train` [default: a fresh TwoLayerNet(784, 50, 10)]
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Seed of the fresh net's initial weights.
    #[arg(long, default_value_t = DEFAULT_SEED, value_name = "N", conflicts_with = "model")]
    pub seed: u64,
    /// Output directory.
    #[command(flatten)]
    pub out: OutArgs,
}

impl OutArgs {
    /// The output directory, created (so a bad one fails before any work).
    fn dir(&self) -> anyhow::Result<PathBuf> {
        let dir = self
            .out
            .clone()
            .unwrap_or_else(|| workspace_root().join("out").join("graph"));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the output directory {}", dir.display()))?;
        Ok(dir)
    }
}

/// Runs `graph`.
pub fn run(args: &GraphArgs) -> anyhow::Result<()> {
    let scalar_caption =
        "forward values above the edges, backward gradients (red) below; dprice = 1";
    match &args.graph {
        Which::Apple(a) => {
            let dir = a.out.dir()?;
            let trace = trace::buy_apple(a.apple, a.apple_num, a.tax)?;
            let title = format!(
                "Buying apples: {} apples at {}, tax {}",
                a.apple_num, a.apple, a.tax
            );
            write(&dir, "apple", &diagram(&trace, title, scalar_caption))
        }
        Which::AppleOrange(a) => {
            let dir = a.out.dir()?;
            let trace =
                trace::buy_apple_orange(a.apple, a.apple_num, a.orange, a.orange_num, a.tax)?;
            let title = format!(
                "Buying apples and oranges: {} apples at {}, {} oranges at {}, tax {}",
                a.apple_num, a.apple, a.orange_num, a.orange, a.tax
            );
            write(
                &dir,
                "apple-orange",
                &diagram(&trace, title, scalar_caption),
            )
        }
        Which::Net(a) => {
            let dir = a.out.dir()?;
            match &a.model {
                Some(model) => {
                    // Read the model first: a bad path fails before any data is fetched.
                    with_checkpoint(
                        model,
                        TracedModel {
                            args: a,
                            model,
                            dir: &dir,
                        },
                    )?
                }
                None => {
                    let mnist = load_data(&a.data)?;
                    let data = TrainData::from_mnist(&mnist)?;
                    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed);
                    let mut net = TwoLayerNet::<f32>::new(
                        data.input_size(),
                        50,
                        data.classes,
                        0.01,
                        &mut rng,
                    )?;
                    let what = format!("fresh TwoLayerNet, seed {}", a.seed);
                    draw_net(&mut net, &data, &what, &dir)
                }
            }
        }
    }
}

/// `graph net --model`, in the checkpoint's float type.
struct TracedModel<'a> {
    args: &'a NetArgs,
    model: &'a Path,
    dir: &'a Path,
}

impl CheckpointTask for TracedModel<'_> {
    type Output = anyhow::Result<()>;

    fn run<F: Float>(self, mut checkpoint: Checkpoint<F>) -> Self::Output {
        let mnist = load_data(&self.args.data)?;
        let data = TrainData::from_mnist(&mnist)?;
        let what = format!("trained model {}", self.model.display());
        draw_net(&mut checkpoint.net, &data, &what, self.dir)
            .with_context(|| format!("cannot trace {}", self.model.display()))
    }
}

fn draw_net<F: Float>(
    net: &mut bp_layers::MultiLayerNet<F>,
    data: &TrainData<'_>,
    what: &str,
    dir: &Path,
) -> anyhow::Result<()> {
    let mut batch = BatchBuffer::<F>::new();
    let first: Vec<usize> = (0..NET_BATCH.min(data.train.len())).collect();
    batch.gather(&data.train, &first)?;
    let trace = trace::net(net, batch.x(), Targets::Labels(batch.labels()))?;
    let title = format!(
        "{} on the first {} training images ({what})",
        layer_names(&trace),
        first.len()
    );
    let caption = "above each edge: shape and Frobenius norm of the forward value; \
                   below (red): norm of the gradient ∂L/∂·";
    write(dir, "net", &diagram(&trace, title, caption))
}

/// `Affine1 → Relu1 → … → SoftmaxWithLoss`: the trace's operations in order.
fn layer_names(trace: &Trace) -> String {
    trace
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Op)
        .map(|n| n.label.as_str())
        .collect::<Vec<_>>()
        .join(" → ")
}

/// The picture of a trace: inputs and outputs as plain text, one-symbol
/// operations in circles, layers in boxes; shapes as the edges' notes.
fn diagram(trace: &Trace, title: String, caption: &str) -> Diagram {
    let nodes = trace
        .nodes
        .iter()
        .map(|n| Node {
            label: n.label.clone(),
            style: match n.kind {
                NodeKind::Input | NodeKind::Output => NodeStyle::Terminal,
                NodeKind::Op if n.label.chars().count() <= 2 => NodeStyle::Circle,
                NodeKind::Op => NodeStyle::Box,
            },
        })
        .collect();
    let edges = trace
        .edges
        .iter()
        .map(|e| Edge {
            from: e.from,
            to: e.to,
            note: e.shape_text(),
            value: e.forward_text.clone(),
            gradient: e.backward_text.clone(),
        })
        .collect();
    Diagram {
        title: Some(title),
        caption: Some(caption.into()),
        nodes,
        edges,
    }
}

/// Writes `<dir>/<name>.svg` and `<dir>/<name>.png` and prints their paths.
fn write(dir: &Path, name: &str, diagram: &Diagram) -> anyhow::Result<()> {
    println!("wrote:");
    for ext in ["svg", "png"] {
        let path = dir.join(format!("{name}.{ext}"));
        plot_graph(&path, diagram)?;
        println!("  {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diagram_carries_the_traces_texts() {
        let t = trace::buy_apple(100.0, 2.0, 1.1).unwrap();
        let d = diagram(&t, "t".into(), "c");
        assert_eq!(d.nodes.len(), t.nodes.len());
        let styles: Vec<NodeStyle> = d.nodes.iter().map(|n| n.style).collect();
        use NodeStyle::{Circle, Terminal};
        assert_eq!(
            styles,
            [Terminal, Terminal, Terminal, Circle, Circle, Terminal]
        );
        let texts: Vec<(&str, &str)> = d
            .edges
            .iter()
            .map(|e| (e.value.as_str(), e.gradient.as_str()))
            .collect();
        assert_eq!(
            texts,
            [
                ("100", "2.2"),
                ("2", "110"),
                ("200", "1.1"),
                ("1.1", "200"),
                ("220", "1")
            ]
        );
    }
}
