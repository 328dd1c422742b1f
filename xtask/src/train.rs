//! `cargo xtask train`, `gradcheck` and `eval`: parse options, call bp-train,
//! bp-layers, bp-plot and the report (`crate::report`), print what happened.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use bp_core::{Float, Targets};
use bp_layers::{gradient_check, TwoLayerNet};
use bp_train::{
    confusion_matrix, default_eval_threads, with_checkpoint, BatchBuffer, Checkpoint,
    CheckpointTask, Evaluation, Observer, OptimizerKind, Plan, Precision, RunConfig, TrainConfig,
    TrainData, DEFAULT_SEED,
};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;

use crate::choice::{ActivationName, InputPathName, OptimizerName, PrecisionName, SamplingName};
use crate::fetch::{load_data, workspace_root, DataArgs};

/// Options of `train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Which data set, where, and from where.
    #[command(flatten)]
    pub data: DataArgs,

    /// Number of iterations (parameter updates).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub iters: usize,

    /// Examples per minibatch.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub batch_size: usize,

    /// Learning rate [default: 0.1 for sgd, 0.01 for momentum, 0.001 for adam]
    #[arg(long, value_name = "F", allow_hyphen_values = true)]
    pub lr: Option<f64>,

    /// Hidden layer widths, comma-separated (e.g. 100,50).
    #[arg(
        long,
        default_value = "50",
        value_delimiter = ',',
        value_name = "N[,N...]"
    )]
    pub hidden: Vec<usize>,

    /// Standard deviation of the initial weights.
    #[arg(
        long,
        default_value_t = 0.01,
        value_name = "F",
        allow_hyphen_values = true
    )]
    pub weight_init_std: f64,

    /// Activation between the Affine layers.
    #[arg(long, value_enum, default_value_t = ActivationName::Relu)]
    pub activation: ActivationName,

    /// Optimizer.
    #[arg(long, value_enum, default_value_t = OptimizerName::Sgd)]
    pub optimizer: OptimizerName,

    /// Minibatch sampling.
    #[arg(long, value_enum, default_value_t = SamplingName::WithReplacement)]
    pub sampling: SamplingName,

    /// Float precision.
    #[arg(long, value_enum, default_value_t = PrecisionName::F32)]
    pub precision: PrecisionName,

    /// Seed of the initial weights and the batch order.
    #[arg(long, default_value_t = DEFAULT_SEED, value_name = "N")]
    pub seed: u64,

    /// Evaluate on both whole splits every N iterations, from iteration 0
    /// [default: once per epoch, as the seed]. 0: only the final net
    #[arg(long, value_name = "N")]
    pub eval_every: Option<usize>,

    /// Output directory [default: runs/latest at the workspace root]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// How the first layer reads the images. Same numbers up to float rounding.
    #[arg(long, value_enum, default_value_t = InputPathName::Auto)]
    pub input_path: InputPathName,

    /// No progress bar (the evaluation lines and output paths are still printed).
    #[arg(long)]
    pub quiet: bool,
}

/// Options of `gradcheck`.
#[derive(clap::Args, Debug)]
pub struct GradcheckArgs {
    /// Which data set, where, and from where.
    #[command(flatten)]
    pub data: DataArgs,

    /// Seed of the initial weights.
    #[arg(long, default_value_t = DEFAULT_SEED, value_name = "N")]
    pub seed: u64,
}

/// Options of `eval`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Which data set, where, and from where.
    #[command(flatten)]
    pub data: DataArgs,

    /// A checkpoint written by `cargo xtask train` (model.safetensors).
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,
}

/// Largest mean absolute difference `gradcheck` accepts.
const GRADCHECK_TOLERANCE: f64 = 1e-7;

impl TrainArgs {
    /// The run's configuration, validated (before any data is loaded).
    fn config(&self) -> anyhow::Result<RunConfig> {
        let optimizer = OptimizerKind::from(self.optimizer);
        let config = TrainConfig {
            iters: self.iters,
            batch_size: self.batch_size,
            lr: self.lr.unwrap_or_else(|| optimizer.default_lr()),
            hidden: self.hidden.clone(),
            weight_init_std: self.weight_init_std,
            activation: self.activation.into(),
            optimizer,
            sampling: self.sampling.into(),
            seed: self.seed,
            eval_every: self.eval_every,
        };
        config.validate()?;
        Ok(RunConfig::new(config)
            .with_precision(self.precision.into())
            .with_input_path(self.input_path.into()))
    }

    fn out_dir(&self) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| workspace_root().join("runs").join("latest"))
    }
}

/// Shows training progress: a bar with the loss and ETA on a terminal, and one
/// line per evaluation in any case.
struct Progress {
    bar: ProgressBar,
}

impl Progress {
    fn new(quiet: bool) -> Self {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(0).with_style(
                ProgressStyle::with_template(
                    "[{elapsed_precise}] [{bar:30}] {pos}/{len} {msg} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            )
        };
        Self { bar }
    }

    fn line(&self, text: &str) {
        if self.bar.is_hidden() {
            println!("{text}");
        } else {
            self.bar.suspend(|| println!("{text}"));
        }
    }
}

fn eval_line(e: &Evaluation) -> String {
    format!(
        "epoch {}  iter {}  train acc {:.4}  test acc {:.4}",
        e.epoch, e.iter, e.train_acc, e.test_acc
    )
}

impl Observer for Progress {
    fn on_start(&mut self, plan: &Plan) {
        self.bar.set_length(plan.iters as u64);
    }

    fn on_iteration(&mut self, iter: usize, loss: f64) {
        // Formatting the message every iteration would cost more than the bar is worth.
        if iter.is_multiple_of(25) {
            self.bar.set_message(format!("loss {loss:.4}"));
        }
        self.bar.set_position(iter as u64 + 1);
    }

    fn on_evaluation(&mut self, eval: &Evaluation) {
        self.line(&eval_line(eval));
    }
}

/// Peak resident memory of this process so far (Linux's `VmHWM`), if known.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A float as people write it: `0.1`, or `1e30` when very large or small.
fn number(v: f64) -> String {
    if v == 0.0 || (1e-4..1e6).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

/// Runs `train`.
pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let run_config = args.config()?;
    let (config, precision) = (&run_config.train, run_config.precision);
    let out = args.out_dir();
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create the output directory {}", out.display()))?;

    let t_load = Instant::now();
    let mnist = load_data(&args.data)?;
    let load_time = t_load.elapsed();
    let data = TrainData::from_mnist(&mnist)?;
    let dataset = mnist.dataset;
    println!(
        "{}: {} training and {} test images; {} iterations of batch {}, lr {}, hidden {:?}, {}, {}, {}, seed {}",
        dataset.title(),
        data.train.len(),
        data.test.len(),
        config.iters,
        config.batch_size,
        number(config.lr),
        config.hidden,
        config.activation,
        config.optimizer,
        precision,
        config.seed
    );

    let model_path = out.join("model.safetensors");
    let mut progress = Progress::new(args.quiet);
    let result = bp_train::run(&run_config, data, &mut progress);
    progress.bar.finish_and_clear();
    let outcome = result?;
    outcome.net.save_checkpoint(&model_path, config)?;
    let (mut history, input_path) = (outcome.history, outcome.input_path);
    history.set_load_time(load_time);
    let Some(last) = history.final_eval else {
        bail!("the run made no evaluation");
    };
    println!(
        "final  iter {}  train acc {:.4}  test acc {:.4}",
        last.iter, last.train_acc, last.test_acc
    );

    let metrics = serde_json::json!({
        "dataset": dataset.name(),
        "precision": precision.name(),
        "seed": config.seed,
        "config": config,
        "eval_every": config.eval_every(data.train.len()),
        "evaluations": &history.evaluations,
        "final": &history.final_eval,
        "final_test_acc": last.test_acc,
        "final_train_acc": last.train_acc,
        "loss": &history.loss,
        "timings": &history.timings,
        "grad_norms": &history.grad_norms,
        "input_path": input_path.name(),
        "layer_sizes": config.layer_sizes(data.input_size(), data.classes),
        "train_size": data.train.len(),
        "test_size": data.test.len(),
        "peak_rss_bytes": peak_rss_bytes(),
    });
    let metrics_path = out.join("metrics.json");
    let text = serde_json::to_string_pretty(&metrics)?;
    bp_plot::write_atomic(&metrics_path, text.as_bytes())
        .with_context(|| format!("cannot write {}", metrics_path.display()))?;

    let (train_acc, test_acc) = (history.train_acc(), history.test_acc());
    let mut written = vec![metrics_path];
    let every = config.eval_every(data.train.len());
    let plot = bp_plot::PlotOptions {
        x_label: if every == config.epoch_len(data.train.len()) {
            "epochs".into()
        } else {
            format!("evaluations (every {every} iterations)")
        },
        ..bp_plot::PlotOptions::default()
    };
    if train_acc.is_empty() {
        println!("no accuracy plot: no evaluation before the final one (--eval-every 0)");
    } else {
        for name in ["accuracy.png", "accuracy.svg"] {
            let path = out.join(name);
            bp_plot::plot_accuracy_with(&path, &train_acc, &test_acc, &plot)
                .with_context(|| format!("cannot plot {}", path.display()))?;
            written.push(path);
        }
    }
    let loss_path = out.join("loss.png");
    bp_plot::plot_loss(&loss_path, &history.loss)
        .with_context(|| format!("cannot plot {}", loss_path.display()))?;
    written.push(loss_path);
    written.push(model_path);
    written.push(crate::report::write(&out, &mnist)?);

    let t = &history.timings;
    println!(
        "time: load {:.2} s, train {:.2} s, eval {:.2} s, total {:.2} s (whole command {:.2} s)",
        t.load_s,
        t.train_s,
        t.eval_s,
        t.total_s,
        start.elapsed().as_secs_f64()
    );
    println!("wrote:");
    for p in written {
        println!("  {}", p.display());
    }
    Ok(())
}

/// Runs `gradcheck`: backprop against central differences for `TwoLayerNet(784,
/// 50, 10)` in f64 on the first 3 training images.
pub fn gradcheck(args: &GradcheckArgs) -> anyhow::Result<()> {
    let mnist = load_data(&args.data)?;
    let data = TrainData::from_mnist(&mnist)?;
    let mut batch = BatchBuffer::<f64>::new();
    batch.gather(&data.train, &[0, 1, 2])?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let mut net = TwoLayerNet::<f64>::new(data.input_size(), 50, data.classes, 0.01, &mut rng)?;
    let checks = gradient_check(&mut net, batch.x(), Targets::Labels(batch.labels()))?;
    let mut failed = Vec::new();
    for c in &checks {
        println!("{}: {:.1e}", c.name, c.mean_abs_diff);
        if c.mean_abs_diff.is_nan() || c.mean_abs_diff > GRADCHECK_TOLERANCE {
            failed.push(format!("{} ({:.1e})", c.name, c.mean_abs_diff));
        }
    }
    if !failed.is_empty() {
        bail!(
            "gradient check failed: mean absolute difference above {GRADCHECK_TOLERANCE:e} for {}",
            failed.join(", ")
        );
    }
    println!("gradient check passed (every parameter within {GRADCHECK_TOLERANCE:e})");
    Ok(())
}

/// Runs `eval`: test accuracy and confusion matrix of a saved model.
pub fn eval(args: &EvalArgs) -> anyhow::Result<()> {
    // The model is read first: a bad path fails before any data is fetched.
    with_checkpoint(&args.model, Eval(args))?
}

/// `eval` in the checkpoint's float type.
struct Eval<'a>(&'a EvalArgs);

impl CheckpointTask for Eval<'_> {
    type Output = anyhow::Result<()>;

    fn run<F: Float>(self, checkpoint: Checkpoint<F>) -> Self::Output {
        eval_typed(self.0, checkpoint)
    }
}

fn eval_typed<F: Float>(args: &EvalArgs, checkpoint: Checkpoint<F>) -> anyhow::Result<()> {
    let mnist = load_data(&args.data)?;
    let data = TrainData::from_mnist(&mnist)?;
    let cm = confusion_matrix(
        &checkpoint.net,
        &data.test,
        data.classes,
        default_eval_threads(),
    )
    .with_context(|| format!("cannot evaluate {}", args.model.display()))?;
    let dataset = mnist.dataset;
    println!(
        "model {} ({:?} hidden, {}, {}, seed {})",
        args.model.display(),
        checkpoint.config.hidden,
        checkpoint.config.activation,
        Precision::of::<F>(),
        checkpoint.config.seed
    );
    println!(
        "{} test accuracy {:.4} ({} of {} correct)",
        dataset.title(),
        cm.accuracy(),
        cm.correct(),
        cm.total()
    );
    println!("confusion matrix (rows: actual class, columns: predicted class):");
    print!("{cm}");
    if dataset != bp_data::Dataset::Mnist {
        let names = dataset.class_names();
        let legend: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{i} = {n}"))
            .collect();
        println!("classes: {}", legend.join(", "));
    }
    Ok(())
}
