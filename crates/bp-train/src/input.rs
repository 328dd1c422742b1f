//! How a run feeds images to the first layer: dense float batches (the book's
//! way) or the sparse path of [`bp_layers::sparse`], chosen by the data's density.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;

use bp_core::{Float, Targets};
use bp_layers::sparse::{
    count_nonzero, sparse_accuracy, sparse_backprop, sparse_correct, SparseBatch, SparseRows,
};
use bp_layers::MultiLayerNet;
use ndarray::ArrayView2;

use crate::data::{BatchBuffer, SplitView, TrainData};
use crate::error::{Result, TrainError};
use crate::eval::{accuracy, count_range};

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

/// Fraction of the entries of `images` that are non-zero.
pub fn density(images: ArrayView2<'_, u8>) -> f64 {
    let total = images.len();
    if total == 0 {
        return 0.0;
    }
    let nonzero = match images.as_slice() {
        Some(s) => count_nonzero(s),
        None => images.iter().filter(|&&b| b != 0).count(),
    };
    nonzero as f64 / total as f64
}

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
        self.gather_rows(train, indices, batch)?;
        batch.index_columns();
        Ok(())
    }

    /// The first part of [`gather`](Self::gather), the one that reads the
    /// training set: sparse batches then need [`Batch::index_columns`].
    pub fn gather_rows<F: Float>(
        &self,
        train: &SplitView<'_>,
        indices: &[usize],
        batch: &mut Batch<F>,
    ) -> Result<()> {
        match (self, batch) {
            (Inputs::Sparse { train: rows, .. }, Batch::Sparse { rows: b, labels }) => {
                b.gather_rows(rows, indices)?;
                labels.clear();
                labels.extend(indices.iter().map(|&i| usize::from(train.labels[i])));
            }
            (Inputs::Dense, Batch::Dense(buf)) => buf.gather(train, indices)?,
            // A batch made for the other path: replace it by one of the right kind.
            (inputs, batch) => {
                *batch = inputs.new_batch();
                return inputs.gather_rows(train, indices, batch);
            }
        }
        Ok(())
    }

    /// Accuracy on the whole training set and on the whole test set.
    pub fn evaluate<F: Float>(
        &self,
        net: &MultiLayerNet<F>,
        data: &TrainData<'_>,
        threads: usize,
    ) -> Result<(f64, f64)> {
        match self {
            Inputs::Dense => Ok((
                accuracy(net, &data.train, data.classes, threads)?,
                accuracy(net, &data.test, data.classes, threads)?,
            )),
            Inputs::Sparse { train, test } => Ok((
                sparse_accuracy(net, train, data.train.labels, threads)?,
                sparse_accuracy(net, test, data.test.labels, threads)?,
            )),
        }
    }
}

/// One of the two splits of a [`TrainData`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Train,
    Test,
}

impl Inputs {
    /// How many of the examples `rows` of one split `net` classifies correctly:
    /// a piece of [`evaluate`](Self::evaluate), so that an evaluation can be
    /// done a slice at a time (the counts add up to the same accuracies).
    pub fn count_correct<F: Float>(
        &self,
        net: &MultiLayerNet<F>,
        data: &TrainData<'_>,
        part: Part,
        rows: Range<usize>,
    ) -> Result<usize> {
        let split = match part {
            Part::Train => &data.train,
            Part::Test => &data.test,
        };
        match self {
            Inputs::Dense => {
                let slice = split.slice(rows.start, rows.end);
                let correct = count_range(net, &slice, data.classes)?.correct();
                Ok(usize::try_from(correct).unwrap_or(usize::MAX))
            }
            Inputs::Sparse { train, test } => {
                let x = match part {
                    Part::Train => train,
                    Part::Test => test,
                };
                Ok(sparse_correct(net, x, split.labels, rows)?)
            }
        }
    }
}

impl<F: Float> Batch<F> {
    /// Finishes a batch begun by [`Inputs::gather_rows`] (nothing to do for
    /// dense batches).
    pub fn index_columns(&mut self) {
        if let Batch::Sparse { rows, .. } = self {
            rows.index_columns();
        }
    }

    /// Loss and gradients of `net` on this batch (gradients left in the layers).
    pub fn backprop(&self, net: &mut MultiLayerNet<F>) -> Result<F> {
        Ok(match self {
            Batch::Dense(buf) => net.backprop(buf.x(), Targets::Labels(buf.labels()))?,
            Batch::Sparse { rows, labels } => sparse_backprop(net, rows, Targets::Labels(labels))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn density_and_names() {
        assert_eq!(density(array![[0u8, 3], [0, 0]].view()), 0.25);
        assert_eq!(density(ndarray::Array2::<u8>::zeros((0, 3)).view()), 0.0);
        assert_eq!("Sparse".parse::<InputPath>().unwrap(), InputPath::Sparse);
        assert!("fast".parse::<InputPath>().is_err());
        assert_eq!(InputPath::default().to_string(), "auto");
    }
}
