//! The crate's error type, [`TrainError`].

use std::path::PathBuf;

use bp_layers::LayerError;

/// Everything that can go wrong configuring, running, saving or loading a training run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// A setting that cannot work (a batch size of 0, a learning rate <= 0, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Training or test data that are inconsistent or do not fit the model.
    #[error("invalid data: {0}")]
    Data(String),
    /// A NaN or infinite loss, weight or gradient: training stopped.
    #[error("training diverged at iteration {iter}: {what} (try a smaller learning rate)")]
    Diverged {
        /// The iteration (0-based, as in the evaluation lines) whose step produced it.
        iter: usize,
        /// What was not finite, e.g. `loss is NaN` or `weight W1 is not finite`.
        what: String,
    },
    /// An error from a layer or the network (shapes, labels).
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// An error from the data set loader.
    #[error(transparent)]
    Dataset(#[from] bp_data::DataError),
    /// Reading or writing a file failed.
    #[error("{}: cannot {what}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done, e.g. `read` or `rename into place`.
        what: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file is not a valid safetensors file (truncated, bad header, bad offsets).
    #[error("{}: not a valid safetensors file: {source}", path.display())]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// What the safetensors parser reported.
        source: safetensors::SafeTensorError,
    },
    /// A valid safetensors file that does not hold the model its metadata describes
    /// (missing or extra tensors, wrong shapes or dtypes, missing or bad metadata).
    #[error("{}: checkpoint mismatch: {problem}", path.display())]
    Checkpoint {
        /// The file.
        path: PathBuf,
        /// What does not match.
        problem: String,
    },
}

/// Result type of this crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;

impl TrainError {
    pub(crate) fn config(msg: impl Into<String>) -> Self {
        TrainError::Config(msg.into())
    }

    pub(crate) fn data(msg: impl Into<String>) -> Self {
        TrainError::Data(msg.into())
    }
}
