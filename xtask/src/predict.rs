//! `cargo xtask predict`: read your own digits (PNG or JPEG) with a saved model.
//! The preparation is bp-data's `digit::load_digit`; the net and its
//! checkpoint are bp-train's, as in `eval`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bp_core::Float;
use bp_data::digit::{load_digit, DIGIT_PIXELS};
use bp_train::{with_checkpoint, BatchBuffer, Checkpoint, CheckpointTask, SplitView};
use ndarray::{Array2, ArrayView2};

/// Options of `predict`.
#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    /// A checkpoint written by `cargo xtask train` (model.safetensors).
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,

    /// Print one JSON object per image and line, {"file", "class", "probs"}.
    #[arg(long)]
    pub json: bool,

    /// Pictures of one digit each, PNG or JPEG, any size, dark on light or light on dark.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
}

/// Runs `predict`: each image's class and the ten probabilities; an image that
/// cannot be read is reported on stderr and makes the command fail at the end,
/// after the others are answered.
pub fn run(args: &PredictArgs) -> anyhow::Result<()> {
    with_checkpoint(&args.model, Predict(args))?
}

/// `predict` in the checkpoint's float type.
struct Predict<'a>(&'a PredictArgs);

impl CheckpointTask for Predict<'_> {
    type Output = anyhow::Result<()>;

    fn run<F: Float>(self, checkpoint: Checkpoint<F>) -> Self::Output {
        run_typed(self.0, checkpoint)
    }
}

fn run_typed<F: Float>(args: &PredictArgs, mut checkpoint: Checkpoint<F>) -> anyhow::Result<()> {
    let net = &mut checkpoint.net;
    if net.input_size() != DIGIT_PIXELS {
        bail!(
            "{}: the model takes {} inputs, but a prepared digit has {DIGIT_PIXELS} pixels (28x28)",
            args.model.display(),
            net.input_size()
        );
    }

    let mut pixels = Vec::with_capacity(args.images.len() * DIGIT_PIXELS);
    let mut read: Vec<&Path> = Vec::new();
    let mut failed = 0;
    for path in &args.images {
        match load_digit(path) {
            Ok(digit) => {
                pixels.extend_from_slice(&digit);
                read.push(path);
            }
            Err(err) => {
                eprintln!("error: {err}");
                failed += 1;
            }
        }
    }

    if !read.is_empty() {
        let probs = probabilities(net, &pixels, read.len())
            .with_context(|| format!("cannot run {}", args.model.display()))?;
        let classes = bp_core::argmax_rows(probs.view());
        for ((path, row), class) in read.iter().zip(probs.rows()).zip(classes) {
            let p: Vec<f64> = row.iter().map(|v| v.to_f64().unwrap_or(f64::NAN)).collect();
            if args.json {
                // Written by hand to keep the documented key order (serde_json sorts keys).
                let file = serde_json::to_string(&path.display().to_string())?;
                let probs = serde_json::to_string(&p)?;
                println!("{{\"file\":{file},\"class\":{class},\"probs\":{probs}}}");
            } else {
                let all: Vec<String> = p
                    .iter()
                    .enumerate()
                    .map(|(k, v)| format!("{k}:{v:.3}"))
                    .collect();
                println!(
                    "{}: {class} (p {:.3})  probabilities {}",
                    path.display(),
                    p[class],
                    all.join(" ")
                );
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} images could not be read", args.images.len());
    }
    Ok(())
}

/// Softmax of the net's scores for `n` prepared digits, converted to floats the
/// way training and `eval` convert the data set's bytes.
fn probabilities<F: Float>(
    net: &mut bp_train::MultiLayerNet<F>,
    pixels: &[u8],
    n: usize,
) -> anyhow::Result<Array2<F>> {
    let images = ArrayView2::from_shape((n, DIGIT_PIXELS), pixels)?;
    // The labels are never read: a SplitView just carries them for evaluation.
    let labels = vec![0u8; n];
    let mut batch = BatchBuffer::<F>::new();
    batch.load(&SplitView::new(images, &labels)?);
    let scores = net.predict(batch.x())?;
    Ok(bp_core::softmax(scores.view()))
}
