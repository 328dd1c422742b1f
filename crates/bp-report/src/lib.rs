//! A run report for backprop: one self-contained HTML page that opens offline
//! from disk (no server, no CDN, nothing fetched), with
//!
//! * the run's configuration and timings;
//! * the accuracy, loss and gradient-norm figures (drawn by `bp-plot`, embedded
//!   as PNG data URIs);
//! * a confusion-matrix heat map of the test set;
//! * a grid of test images the model gets wrong, with true and predicted labels;
//! * the first layer's weights as pictures (one per hidden unit, diverging colours);
//! * a drawing pad: the page runs the trained net's forward pass in JavaScript
//!   (the weights are embedded as base64 little-endian `f32`) on what the user
//!   draws, prepared as `cargo xtask predict` prepares an image, and shows the
//!   softmax probabilities while drawing. `window.bpPad` is a small API for
//!   tests: `setImage(width, height, greyBytes)`, `probs()`, `predicted()`,
//!   `prepared()` and `clear()`.
//!
//! The report takes a plain [`RunReport`] of numbers and strings, not bp-train's
//! `History` or bp-layers' net: the caller (`cargo xtask train` and `cargo xtask
//! report`) fills it. So this crate, like bp-plot, knows nothing about training
//! (it depends on no numeric crate and compiles without them), renders any run
//! from any source (a fresh run, an old `metrics.json`, a test's made-up
//! numbers), and the training crates never pull in HTML or plotting.
//!
//! ```
//! # fn main() -> Result<(), bp_report::ReportError> {
//! use bp_report::{Activation, Dense, GradNormHistory, Mistake, Net, RunReport};
//!
//! // A made-up 2x2-pixel, two-class run with a net 4 -> 3 -> 2.
//! let report = RunReport {
//!     title: "Tiny run".into(),
//!     headline: vec![("test accuracy".into(), "0.5".into())],
//!     config: vec![("iterations".into(), "10".into())],
//!     timings: vec![("train".into(), 0.01)],
//!     train_acc: vec![0.5, 0.75],
//!     test_acc: vec![0.5, 0.5],
//!     eval_label: "epochs".into(),
//!     loss: vec![0.7, 0.6, 0.5],
//!     grad_norms: GradNormHistory {
//!         iters: vec![0, 9],
//!         series: vec![("W1".into(), vec![0.3, 0.2])],
//!     },
//!     classes: vec!["0".into(), "1".into()],
//!     confusion: vec![vec![1, 1], vec![0, 2]],
//!     mistakes: vec![Mistake { index: 3, actual: 0, predicted: 1, pixels: vec![0, 255, 0, 255] }],
//!     image_width: 2,
//!     image_height: 2,
//!     net: Net {
//!         activation: Activation::Relu,
//!         layers: vec![
//!             Dense { inputs: 4, outputs: 3, weights: vec![0.1; 12], bias: vec![0.0; 3] },
//!             Dense { inputs: 3, outputs: 2, weights: vec![0.2, -0.2, 0.1, 0.0, 0.3, -0.1], bias: vec![0.0; 2] },
//!         ],
//!     },
//! };
//! let html = bp_report::render_html(&report)?;
//! for id in bp_report::SECTION_IDS {
//!     assert!(html.contains(&format!("<section id=\"{id}\"")));
//! }
//! assert!(!html.contains("http://") && !html.contains("https://"));
//!
//! // Inconsistent data is an error, never a panic.
//! let mut bad = report.clone();
//! bad.confusion.pop();
//! assert!(matches!(bp_report::render_html(&bad), Err(bp_report::ReportError::Invalid(_))));
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};

use serde::Serialize;

mod html;
mod images;

pub use html::render_html;
pub use images::{diverging_color, encode_grey_png, encode_rgb_png};

/// Test images shown in the mistakes grid, at most (the first ones the model gets wrong).
pub const MISTAKES_SHOWN: usize = 48;
/// Hidden units of the first layer shown as pictures, at most.
pub const WEIGHT_UNITS_SHOWN: usize = 50;
/// The `id` of each section of the page, in order.
pub const SECTION_IDS: [&str; 10] = [
    "summary",
    "config",
    "timings",
    "accuracy",
    "loss",
    "grad-norms",
    "confusion",
    "mistakes",
    "weights",
    "pad",
];
/// The `id` of the `<script type="application/json">` element holding the
/// model the drawing pad runs (see [`render_html`] for its format).
pub const MODEL_SCRIPT_ID: &str = "bp-model";

/// Everything that can go wrong while building a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The report's data are inconsistent (shapes, labels, lengths).
    #[error("invalid report data: {0}")]
    Invalid(String),
    /// A figure could not be drawn.
    #[error("cannot draw the {figure} figure: {source}")]
    Plot {
        /// Which figure (`accuracy`, `loss`, `gradient norms`).
        figure: &'static str,
        /// The plotting error.
        #[source]
        source: bp_plot::PlotError,
    },
    /// An image could not be encoded.
    #[error("cannot encode an image: {0}")]
    Image(String),
    /// Writing the page failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The path being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The hidden layers' activation function; the page's script knows it by its
/// lower-case name (`relu`, `sigmoid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `max(0, x)`.
    Relu,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
}

/// One affine layer: `y = x W + b`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    /// Input width (rows of `W`).
    pub inputs: usize,
    /// Output width (columns of `W`).
    pub outputs: usize,
    /// `W`, row-major `inputs x outputs`: `weights[i * outputs + j]` links input `i` to output `j`.
    pub weights: Vec<f32>,
    /// `b`, one per output.
    pub bias: Vec<f32>,
}

/// The trained net: affine layers with `activation` between them and softmax at the end.
#[derive(Debug, Clone, PartialEq)]
pub struct Net {
    /// The hidden layers' activation.
    pub activation: Activation,
    /// The affine layers in order (`W1 b1`, `W2 b2`, ...).
    pub layers: Vec<Dense>,
}

/// Gradient norms recorded during training.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GradNormHistory {
    /// The iterations they were recorded at.
    pub iters: Vec<usize>,
    /// `(parameter name, one norm per entry of iters)`; empty when the run recorded none.
    pub series: Vec<(String, Vec<f64>)>,
}

/// A test image the model gets wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Mistake {
    /// Its index in the test set.
    pub index: usize,
    /// The true class.
    pub actual: usize,
    /// The predicted class.
    pub predicted: usize,
    /// Row-major greyscale pixels, `image_width x image_height`.
    pub pixels: Vec<u8>,
}

/// The numbers and words a report shows: filled by the caller from a run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// The page's title.
    pub title: String,
    /// Key facts shown large at the top (`(label, value)`).
    pub headline: Vec<(String, String)>,
    /// Configuration rows (`(name, value)`), shown in order.
    pub config: Vec<(String, String)>,
    /// Timing rows (`(part, seconds)`).
    pub timings: Vec<(String, f64)>,
    /// Training-set accuracy at each evaluation (may be empty: no figure then).
    pub train_acc: Vec<f64>,
    /// Test-set accuracy at each evaluation (as long as `train_acc`).
    pub test_acc: Vec<f64>,
    /// The accuracy figure's x-axis label (`epochs`, or the evaluation schedule).
    pub eval_label: String,
    /// The loss of every iteration.
    pub loss: Vec<f64>,
    /// Gradient norms over training (may be empty: older runs did not record them).
    pub grad_norms: GradNormHistory,
    /// Class names, by class index.
    pub classes: Vec<String>,
    /// Test-set confusion matrix: `confusion[actual][predicted]`, `classes x classes`.
    pub confusion: Vec<Vec<u64>>,
    /// Test images the model gets wrong (the first [`MISTAKES_SHOWN`] are shown).
    pub mistakes: Vec<Mistake>,
    /// Image width in pixels.
    pub image_width: usize,
    /// Image height in pixels.
    pub image_height: usize,
    /// The trained net; its first layer takes `image_width * image_height` inputs.
    pub net: Net,
}

impl RunReport {
    /// Checks that the parts fit together: the net's shapes chain from the
    /// image size to the class count, the confusion matrix is square over the
    /// classes, every mistake's labels and pixels fit.
    pub fn validate(&self) -> Result<(), ReportError> {
        let invalid = |m: String| Err(ReportError::Invalid(m));
        let pixels = self.image_width.checked_mul(self.image_height);
        let Some(pixels) = pixels.filter(|&p| p > 0) else {
            return invalid(format!(
                "image size {}x{} is empty or too large",
                self.image_width, self.image_height
            ));
        };
        let classes = self.classes.len();
        if classes < 2 {
            return invalid(format!("{classes} classes: at least 2 are needed"));
        }
        let Some(first) = self.net.layers.first() else {
            return invalid("the net has no layer".into());
        };
        if first.inputs != pixels {
            return invalid(format!(
                "the net takes {} inputs but the images have {pixels} pixels",
                first.inputs
            ));
        }
        let mut width = pixels;
        for (k, layer) in self.net.layers.iter().enumerate() {
            let name = k + 1;
            if layer.inputs != width {
                return invalid(format!(
                    "layer {name} takes {} inputs but the layer before gives {width}",
                    layer.inputs
                ));
            }
            if layer.inputs.checked_mul(layer.outputs) != Some(layer.weights.len()) {
                return invalid(format!(
                    "W{name} has {} values for a {}x{} matrix",
                    layer.weights.len(),
                    layer.inputs,
                    layer.outputs
                ));
            }
            if layer.bias.len() != layer.outputs {
                return invalid(format!(
                    "b{name} has {} values for {} outputs",
                    layer.bias.len(),
                    layer.outputs
                ));
            }
            width = layer.outputs;
        }
        if width != classes {
            return invalid(format!(
                "the net has {width} outputs but there are {classes} classes"
            ));
        }
        if self.confusion.len() != classes || self.confusion.iter().any(|r| r.len() != classes) {
            return invalid(format!("the confusion matrix is not {classes}x{classes}"));
        }
        for m in &self.mistakes {
            if m.actual >= classes || m.predicted >= classes {
                return invalid(format!(
                    "mistake at test image {} has a class outside 0..{classes}",
                    m.index
                ));
            }
            if m.pixels.len() != pixels {
                return invalid(format!(
                    "mistake at test image {} has {} pixels, not {pixels}",
                    m.index,
                    m.pixels.len()
                ));
            }
        }
        let g = &self.grad_norms;
        if let Some((name, v)) = g.series.iter().find(|(_, v)| v.len() != g.iters.len()) {
            return invalid(format!(
                "gradient norms of {name}: {} values for {} iterations",
                v.len(),
                g.iters.len()
            ));
        }
        Ok(())
    }
}

/// Renders `report` and writes it to `path` atomically (a temporary file in
/// the same directory, then a rename); a missing directory is created.
pub fn write_report(path: &Path, report: &RunReport) -> Result<(), ReportError> {
    let html = render_html(report)?;
    bp_plot::write_atomic(path, html.as_bytes()).map_err(|e| match e {
        bp_plot::PlotError::Io { path, source } => ReportError::Io { path, source },
        other => ReportError::Plot {
            figure: "page",
            source: other,
        },
    })
}
