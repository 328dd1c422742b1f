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
    /// A worker thread (the batch loader, an evaluation) panicked or stopped
    /// early; the run cannot go on.
    #[error("a worker thread failed: {0}")]
    Thread(String),
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
    #[error("{}: cannot {what}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done, e.g. `read` or `rename into place`.
        what: &'static str,
        /// The operating system's error (in the message, so not also a `source`).
        error: std::io::Error,
    },
    /// A file is not a valid safetensors file (truncated, bad header, bad offsets).
    #[error("{}: not a valid safetensors file: {}", path.display(), describe(error))]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// What the safetensors parser reported (in the message, so not also a `source`).
        error: safetensors::SafeTensorError,
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

/// A sentence for a safetensors parse error (its `Display` is its `Debug`).
fn describe(error: &safetensors::SafeTensorError) -> String {
    use safetensors::SafeTensorError as E;
    match error {
        E::HeaderTooSmall => "shorter than the 8-byte header length".into(),
        E::HeaderTooLarge => "the header length is implausibly large".into(),
        E::InvalidHeaderLength => "the header length runs past the end of the file (truncated?)".into(),
        E::InvalidHeader => "the header is not UTF-8 text".into(),
        E::InvalidHeaderStart | E::InvalidHeaderDeserialization => {
            "the header is not a valid safetensors JSON header".into()
        }
        E::MetadataIncompleteBuffer => {
            "the tensor data do not fill the rest of the file exactly (truncated, or trailing bytes)"
                .into()
        }
        E::InvalidOffset(name) => format!("tensor {name} has invalid data offsets"),
        E::TensorInvalidInfo => "a tensor's shape, dtype and data offsets disagree".into(),
        E::ValidationOverflow => "a tensor's shape overflows".into(),
        other => format!("{other:?}"),
    }
}

/// Result type of this crate.
pub type Result<T, E = TrainError> = std::result::Result<T, E>;

impl TrainError {
    pub(crate) fn config(msg: impl Into<String>) -> Self {
        TrainError::Config(msg.into())
    }

    pub(crate) fn thread(msg: impl Into<String>) -> Self {
        TrainError::Thread(msg.into())
    }

    pub(crate) fn data(msg: impl Into<String>) -> Self {
        TrainError::Data(msg.into())
    }
}
