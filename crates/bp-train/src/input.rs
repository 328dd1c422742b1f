//! How a run feeds images to the first layer: dense float batches to
//! [`Affine`](bp_layers::Affine) (the book's way) or sparse pixels to
//! [`SparseAffine`], chosen by the data's density. The net is the same
//! [`MultiLayerNet`] either way, built with one first layer or the other.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;

use bp_core::{argmax_rows, Float, Targets};
use bp_layers::sparse::{SparseAffine, SparseBatch, SparseRows};
use bp_layers::{Backprop, MultiLayerNet, Param};

use crate::data::{BatchBuffer, SplitView, TrainData};
use crate::error::{Result, TrainError};
use crate::eval::{count_range, EVAL_CHUNK};

/// Which implementation of the first layer's products a run uses. Both compute
/// the same numbers up to float rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputPath {
    /// Sparse when at most [`SPARSE_MAX_DENSITY`] of the training pixels are
    /// non-zero (MNIST: 19%: sparse; Fashion-MNIST: 50%: dense), dense otherwise.
    #[default]
    Auto,
    /// Float minibatches and ndarray's matrix products, as in the book.
    Dense,
    /// Only the non-zero pixels (`bp_layers::sparse`).
    Sparse,
}

/// Above this fraction of non-zero pixels, [`InputPath::Auto`] picks the dense path.
///
/// Measured with whole runs of `cargo xtask train`: MNIST (19% non-zero) is
/// about twice as fast sparse; Fashion-MNIST (50%) about as fast either way but
/// with twice the peak memory sparse, so it stays dense.
pub const SPARSE_MAX_DENSITY: f64 = 0.35;

impl InputPath {
    /// Lower-case name: `auto`, `dense` or `sparse`.
    pub fn name(self) -> &'static str {
        match self {
            InputPath::Auto => "auto",
            InputPath::Dense => "dense",
            InputPath::Sparse => "sparse",
        }
    }
}

impl fmt::Display for InputPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for InputPath {
    type Err = TrainError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(InputPath::Auto),
            "dense" => Ok(InputPath::Dense),
            "sparse" => Ok(InputPath::Sparse),
            _ => Err(TrainError::config(format!(
                "unknown input path {s:?} (expected auto, dense or sparse)"
            ))),
        }
    }
}

pub use bp_layers::sparse::density;

/// The run's inputs in the form its path needs: read-only, cheap to clone and
/// to share with the threads that prepare batches or evaluate.
#[derive(Clone)]
pub(crate) enum Inputs {
    /// The `u8` images themselves, converted batch by batch.
    Dense,
    /// Sparse copies of the training and test images.
    Sparse {
        train: Arc<SparseRows>,
        test: Arc<SparseRows>,
    },
}

/// The net of a run, with the first layer its inputs need.
#[derive(Debug, Clone)]
pub(crate) enum Net<F> {
    Dense(MultiLayerNet<F>),
    Sparse(MultiLayerNet<F, SparseAffine<F>>),
}

impl<F: Float> Net<F> {
    /// Parameters and gradients, `W1 b1 W2 b2 ...`.
    pub fn params(&self) -> Vec<Param<'_, F>> {
        match self {
            Net::Dense(net) => net.params(),
            Net::Sparse(net) => net.params(),
        }
    }

    /// The net with the dense first layer (the same weights).
    pub fn into_dense(self) -> MultiLayerNet<F> {
        match self {
            Net::Dense(net) => net,
            Net::Sparse(net) => net.with_input_layer(),
        }
    }

    /// The book's `gradient` on `batch`: the loss, and each parameter beside its gradient.
    pub fn gradient<'a>(&'a mut self, batch: &'a Batch<F>) -> Result<Backprop<'a, F>> {
        Ok(match (self, batch) {
            (Net::Dense(net), Batch::Dense(b)) => {
                net.gradient(b.x(), Targets::Labels(b.labels()))?
            }
            (Net::Sparse(net), Batch::Sparse { rows, labels }) => {
                net.gradient(rows.view(), Targets::Labels(labels))?
            }
            _ => return Err(mismatch()),
        })
    }
}

fn mismatch() -> TrainError {
    TrainError::config("a batch or a net made for the other input path")
}

/// One minibatch, ready for backprop; its buffers are reused from step to step.
// A handful of values per run: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Batch<F> {
    Dense(BatchBuffer<F>),
    Sparse {
        rows: SparseBatch,
        labels: Vec<usize>,
    },
}

/// Pixels are read as `byte / 255`, as the book's `load_mnist(normalize=True)`.
const PIXEL_SCALE: f64 = 1.0 / 255.0;

impl Inputs {
    /// Prepares `data` for `path` (`Auto` resolved by the training set's density).
    pub fn new(path: InputPath, data: &TrainData<'_>) -> Result<Self> {
        let sparse = match path {
            InputPath::Dense => false,
            InputPath::Sparse => true,
            InputPath::Auto => density(data.train.images) <= SPARSE_MAX_DENSITY,
        };
        if !sparse {
            return Ok(Inputs::Dense);
        }
        // On all cores: this runs before training starts.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Inputs::Sparse {
            train: Arc::new(SparseRows::from_u8_threads(
                data.train.images,
                PIXEL_SCALE,
                threads,
            )?),
            test: Arc::new(SparseRows::from_u8_threads(
                data.test.images,
                PIXEL_SCALE,
                threads,
            )?),
        })
    }

    /// The path in use: `Dense` or `Sparse`.
    pub fn path(&self) -> InputPath {
        match self {
            Inputs::Dense => InputPath::Dense,
            Inputs::Sparse { .. } => InputPath::Sparse,
        }
    }

    /// `net` with the first layer these inputs need.
    pub fn net<F: Float>(&self, net: MultiLayerNet<F>) -> Net<F> {
        match self {
            Inputs::Dense => Net::Dense(net),
            Inputs::Sparse { .. } => Net::Sparse(net.with_input_layer()),
        }
    }

    /// An empty batch of the right kind, for [`gather`](Self::gather).
    pub fn new_batch<F: Float>(&self) -> Batch<F> {
        match self {
            Inputs::Dense => Batch::Dense(BatchBuffer::new()),
            Inputs::Sparse { .. } => Batch::Sparse {
                rows: SparseBatch::new(),
                labels: Vec::new(),
            },
        }
    }

    /// About how many bytes one batch of `batch_size` examples takes.
    pub fn batch_bytes<F: Float>(&self, batch_size: usize, width: usize) -> usize {
        match self {
            Inputs::Dense => batch_size * width * std::mem::size_of::<F>(),
            // Two copies of the non-zeros (by row and by column), 3 bytes each.
            Inputs::Sparse { train, .. } => {
                let per_row = train.nnz().div_ceil(train.nrows().max(1));
                batch_size * per_row * 6 + width * 8
            }
        }
    }

    /// Fills `batch` with the examples `indices` of `train`.
    pub fn gather<F: Float>(
        &self,
        train: &SplitView<'_>,
        indices: &[usize],
        batch: &mut Batch<F>,
    ) -> Result<()> {
        match (self, batch) {
            (Inputs::Sparse { train: rows, .. }, Batch::Sparse { rows: b, labels }) => {
                b.gather(rows, indices)?;
                labels.clear();
                labels.extend(indices.iter().map(|&i| usize::from(train.labels[i])));
            }
            (Inputs::Dense, Batch::Dense(buf)) => buf.gather(train, indices)?,
            // A batch made for the other path: replace it by one of the right kind.
            (inputs, batch) => {
                *batch = inputs.new_batch();
                return inputs.gather(train, indices, batch);
            }
        }
        Ok(())
    }

    /// Accuracy on the whole training set and on the whole test set, each
    /// split's rows shared among `threads` threads (each with a copy of the net).
    pub fn evaluate<F: Float>(
        &self,
        net: &Net<F>,
        data: &TrainData<'_>,
        threads: usize,
    ) -> Result<(f64, f64)> {
        let accuracy = |part: Part, n: usize| -> Result<f64> {
            // Whole chunks per thread, so every chunk but the last is full.
            let threads = threads.clamp(1, n.div_ceil(EVAL_CHUNK).max(1));
            let per = n.div_ceil(EVAL_CHUNK).div_ceil(threads) * EVAL_CHUNK;
            let count = |k: usize| {
                let rows = (k * per).min(n)..((k + 1) * per).min(n);
                self.count_correct(&mut net.clone(), data, part, rows)
            };
            let correct: usize = std::thread::scope(|s| {
                let others: Vec<_> = (1..threads).map(|k| s.spawn(move || count(k))).collect();
                let mut total = count(0)?;
                for h in others {
                    total += h
                        .join()
                        .map_err(|_| TrainError::thread("an evaluation thread panicked"))??;
                }
                Ok::<_, TrainError>(total)
            })?;
            Ok(correct as f64 / n.max(1) as f64)
        };
        Ok((
            accuracy(Part::Train, data.train.len())?,
            accuracy(Part::Test, data.test.len())?,
        ))
    }
}

/// One of the two splits of a [`TrainData`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Train,
    Test,
}

impl Inputs {
    /// How many of the examples `rows` of one split `net` classifies correctly,
    /// [`EVAL_CHUNK`] rows at a time: a piece of [`evaluate`](Self::evaluate),
    /// so that an evaluation can be done a slice at a time (the counts add up
    /// to the same accuracies).
    pub fn count_correct<F: Float>(
        &self,
        net: &mut Net<F>,
        data: &TrainData<'_>,
        part: Part,
        rows: Range<usize>,
    ) -> Result<usize> {
        let split = match part {
            Part::Train => &data.train,
            Part::Test => &data.test,
        };
        match (self, net) {
            (Inputs::Dense, Net::Dense(net)) => {
                let slice = split.slice(rows.start, rows.end);
                let correct = count_range(net, &slice, data.classes)?.correct();
                Ok(usize::try_from(correct).unwrap_or(usize::MAX))
            }
            (Inputs::Sparse { train, test }, Net::Sparse(net)) => {
                let x = match part {
                    Part::Train => train,
                    Part::Test => test,
                };
                let mut correct = 0;
                for start in rows.clone().step_by(EVAL_CHUNK) {
                    let end = (start + EVAL_CHUNK).min(rows.end);
                    let scores = net.predict(x.view(start..end)?)?;
                    let labels = split.labels.get(start..end).unwrap_or_default();
                    correct += argmax_rows(scores.view())
                        .into_iter()
                        .zip(labels)
                        .filter(|&(p, &l)| p == usize::from(l))
                        .count();
                }
                Ok(correct)
            }
            _ => Err(mismatch()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn density_and_names() {
        assert_eq!(density(array![[0u8, 3], [0, 0]].view()), 0.25);
        assert_eq!("Sparse".parse::<InputPath>().unwrap(), InputPath::Sparse);
        assert!("fast".parse::<InputPath>().is_err());
        assert_eq!(InputPath::default().to_string(), "auto");
    }
}
