//! `cargo xtask report`, and the run report `train` writes: fills
//! bp-report's plain `RunReport` from a run directory's metrics.json and
//! model.safetensors and the data set's test split.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bp_core::Float;
use bp_data::{Dataset, MnistData};
use bp_train::{
    confusion_matrix, default_eval_threads, predictions, read_checkpoint_info, with_checkpoint,
    Activation, Checkpoint, CheckpointTask, Evaluation, GradNorms, History, Timings, TrainConfig,
    TrainData,
};
use serde::Deserialize;

use crate::fetch::{load_data, DataArgs};

/// The report's file name in a run directory.
pub const REPORT_FILE: &str = "report.html";

/// Options of `report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Which data set, where, and from where (for the test set).
    #[command(flatten)]
    pub data: DataArgs,

    /// A run directory written by `cargo xtask train` (with metrics.json and model.safetensors).
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
}

/// What the report reads from metrics.json. Files written before gradient
/// norms were recorded have none; they still read.
#[derive(Deserialize)]
struct Metrics {
    dataset: String,
    precision: String,
    config: TrainConfig,
    eval_every: usize,
    evaluations: Vec<Evaluation>,
    #[serde(rename = "final")]
    final_eval: Option<Evaluation>,
    loss: Vec<f64>,
    timings: Timings,
    #[serde(default)]
    grad_norms: Vec<GradNorms>,
    #[serde(default)]
    input_path: Option<String>,
    #[serde(default)]
    layer_sizes: Vec<usize>,
    train_size: usize,
    test_size: usize,
    #[serde(default)]
    peak_rss_bytes: Option<u64>,
}

impl Metrics {
    fn read(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join("metrics.json");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {} (is {} a run directory written by cargo xtask train?)",
                path.display(),
                dir.display()
            )
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a run's metrics", path.display()))
    }

    fn history(&self) -> History {
        History {
            loss: self.loss.clone(),
            evaluations: self.evaluations.clone(),
            final_eval: self.final_eval,
            timings: self.timings,
            grad_norms: self.grad_norms.clone(),
        }
    }
}

/// Runs `report`: rewrites `<run>/report.html`.
pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let dir = &args.run;
    if !dir.is_dir() {
        bail!(
            "no run directory at {} (cargo xtask train --out DIR writes one)",
            dir.display()
        );
    }
    // Everything from the run is read before any data is fetched.
    let metrics = Metrics::read(dir)?;
    read_checkpoint_info(&dir.join("model.safetensors"))?;
    let trained_on: Dataset = metrics
        .dataset
        .parse()
        .with_context(|| format!("{}/metrics.json names no known data set", dir.display()))?;
    if trained_on != args.data.dataset {
        bail!(
            "{} was trained on {}: pass --dataset {}",
            dir.display(),
            trained_on.name(),
            trained_on.name()
        );
    }
    let mnist = load_data(&args.data)?;
    let path = write(dir, &mnist)?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Writes `<dir>/report.html` from `<dir>/metrics.json`, `<dir>/model.safetensors`
/// and the test split of `mnist`; returns its path.
pub fn write(dir: &Path, mnist: &MnistData) -> anyhow::Result<PathBuf> {
    let metrics = Metrics::read(dir)?;
    let model = dir.join("model.safetensors");
    let report = with_checkpoint(
        &model,
        Build {
            metrics: &metrics,
            mnist,
        },
    )??;
    let path = dir.join(REPORT_FILE);
    bp_report::write_report(&path, &report)
        .with_context(|| format!("cannot write the report {}", path.display()))?;
    Ok(path)
}

/// A float as people write it: `0.1`, or `1e30` when very large or small.
fn number(v: f64) -> String {
    if v == 0.0 || (1e-4..1e6).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// The report's contents, built in the checkpoint's float type.
struct Build<'a> {
    metrics: &'a Metrics,
    mnist: &'a MnistData,
}

impl CheckpointTask for Build<'_> {
    type Output = anyhow::Result<bp_report::RunReport>;

    fn run<F: Float>(self, checkpoint: Checkpoint<F>) -> Self::Output {
        build(self.metrics, &checkpoint, self.mnist)
    }
}

fn build<F: Float>(
    metrics: &Metrics,
    checkpoint: &Checkpoint<F>,
    mnist: &MnistData,
) -> anyhow::Result<bp_report::RunReport> {
    let net = &checkpoint.net;
    let data = TrainData::from_mnist(mnist)?;
    let dataset = mnist.dataset;
    let threads = default_eval_threads();
    let cm = confusion_matrix(net, &data.test, data.classes, threads)
        .context("cannot evaluate the model on the test set")?;
    let predicted = predictions(net, &data.test, threads)?;
    let mistakes = data
        .test
        .labels
        .iter()
        .zip(&predicted)
        .enumerate()
        .filter(|(_, (&label, &p))| usize::from(label) != p)
        .take(bp_report::MISTAKES_SHOWN)
        .map(|(i, (&label, &p))| bp_report::Mistake {
            index: i,
            actual: usize::from(label),
            predicted: p,
            pixels: data.test.images.row(i).to_vec(),
        })
        .collect();

    let c = &metrics.config;
    let history = metrics.history();
    let final_eval = history.final_eval.or(history.evaluations.last().copied());
    let t = &history.timings;
    let mut headline = vec![("data set".to_string(), dataset.title().to_string())];
    if let Some(e) = final_eval {
        headline.push(("final test accuracy".into(), format!("{:.4}", e.test_acc)));
        headline.push(("final train accuracy".into(), format!("{:.4}", e.train_acc)));
    }
    headline.push((
        "test images wrong".into(),
        format!("{} of {}", cm.total() - cm.correct(), cm.total()),
    ));
    headline.push(("training time".into(), format!("{:.2} s", t.train_s)));

    let epoch_len = c.epoch_len(metrics.train_size);
    let every = metrics.eval_every;
    let mut config = vec![
        ("data set".to_string(), dataset.name().to_string()),
        ("precision".into(), metrics.precision.clone()),
        ("iterations".into(), c.iters.to_string()),
        ("batch size".into(), c.batch_size.to_string()),
        ("learning rate".into(), number(c.lr)),
        ("hidden layers".into(), format!("{:?}", c.hidden)),
        ("layer sizes".into(), format!("{:?}", metrics.layer_sizes)),
        ("initial weights' std".into(), number(c.weight_init_std)),
        ("activation".into(), c.activation.to_string()),
        ("optimizer".into(), c.optimizer.to_string()),
        ("sampling".into(), c.sampling.to_string()),
        ("seed".into(), c.seed.to_string()),
        (
            "evaluations".into(),
            match every {
                0 => "the final net only".to_string(),
                n if n == epoch_len => format!("every epoch ({n} iterations)"),
                n => format!("every {n} iterations"),
            },
        ),
        (
            "examples (train / test)".into(),
            format!("{} / {}", metrics.train_size, metrics.test_size),
        ),
    ];
    if let Some(path) = &metrics.input_path {
        config.push(("first layer's input".into(), path.clone()));
    }
    if let Some(bytes) = metrics.peak_rss_bytes {
        config.push((
            "peak memory".into(),
            format!("{:.0} MB", bytes as f64 / 1e6),
        ));
    }
    let timings = vec![
        ("loading the data".to_string(), t.load_s),
        ("training steps".into(), t.train_s),
        ("evaluations (beside training)".into(), t.eval_s),
        ("whole run".into(), t.total_s),
    ];

    let layers = net
        .affines()
        .iter()
        .map(|a| bp_report::Dense {
            inputs: a.input_size(),
            outputs: a.output_size(),
            // Row-major, as the report wants (an ndarray iterates in logical order).
            weights: a.w.iter().map(|v| v.to_f64_exact() as f32).collect(),
            bias: a.b.iter().map(|v| v.to_f64_exact() as f32).collect(),
        })
        .collect();
    let (height, width) = dataset.image_shape();
    Ok(bp_report::RunReport {
        title: format!("{} run report", dataset.title()),
        headline,
        config,
        timings,
        train_acc: history.train_acc(),
        test_acc: history.test_acc(),
        eval_label: if every == epoch_len {
            "epochs".into()
        } else {
            format!("evaluations (every {every} iterations)")
        },
        loss: history.loss.clone(),
        grad_norms: bp_report::GradNormHistory {
            iters: history.grad_norms.iter().map(|g| g.iter).collect(),
            series: history.grad_norm_series(),
        },
        classes: dataset
            .class_names()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        confusion: (0..cm.classes()).map(|a| cm.row(a).to_vec()).collect(),
        mistakes,
        image_width: width,
        image_height: height,
        net: bp_report::Net {
            activation: match net.activation() {
                Activation::Relu => bp_report::Activation::Relu,
                Activation::Sigmoid => bp_report::Activation::Sigmoid,
            },
            layers,
        },
    })
}
