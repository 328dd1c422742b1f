//! The training loop of backprop: the seed's minibatch SGD on the book's
//! two-layer net (chapter 5 of *Deep Learning from Scratch*), with Momentum and
//! Adam (chapter 6), evaluations, a history, divergence checks and safetensors
//! checkpoints.
//!
//! * [`TrainConfig`]: the recipe. Its default is the seed's: 10000 iterations of
//!   batch 100, SGD with learning rate 0.1, one hidden layer of 50 ReLU units,
//!   weights from `N(0, 0.01²)`, minibatches drawn with replacement.
//! * [`Trainer`] / [`train`]: the loop. One [`ChaCha8Rng`](rand_chacha::ChaCha8Rng)
//!   seeded with [`TrainConfig::seed`] draws the initial weights and then every
//!   minibatch, so a seed fixes the whole run. After iteration 0 and every
//!   `max(train_size / batch_size, 1)` iterations the net is evaluated on the full
//!   training and test sets (17 evaluations for the defaults on MNIST). Each
//!   step is the book's: the net's `gradient` (forward through the layers,
//!   `SoftmaxWithLoss::backward(1)`, the layers in reverse), then the
//!   [`Optimizer`]'s `update`. On sparse inputs such as MNIST ([`InputPath`])
//!   the net's first layer is `bp_layers::sparse::SparseAffine`, the same
//!   layer computed from the non-zero pixels only.
//!   `examples/train_neuralnet.rs` is the seed's script on this public API.
//! * [`RunConfig`] / [`run`]: one value for a whole run (recipe, evaluation
//!   schedule, precision, input path) and the run it describes, returning a
//!   [`TrainedNet`] in the chosen float type, so callers never match on it.
//! * [`Observer`]: progress (start, each iteration's loss, each evaluation). This
//!   crate prints nothing.
//! * [`History`]: the loss of every iteration, every [`Evaluation`], the
//!   gradient norms at each evaluation ([`GradNorms`]) and [`Timings`];
//!   serde-serialisable.
//! * [`save_checkpoint`] / [`load_checkpoint`]: safetensors files with tensors
//!   `W1 b1 W2 b2 ...` and the config as metadata, written atomically, checked on load;
//!   [`with_checkpoint`] runs a [`CheckpointTask`] in the float type the file holds.
//! * [`confusion_matrix`] / [`accuracy`] / [`predictions`]: evaluation of any
//!   net on a split.
//!
//! Data are borrowed `u8` images ([`SplitView`], [`TrainData`]): each minibatch is
//! converted to floats in `[0, 1]` in one reused buffer, and evaluations go through
//! the set in chunks, so no float copy of a whole set is ever made. The code is
//! generic over [`Float`](bp_core::Float): `f32` or `f64`.
//!
//! On two or more cores, [`Trainer::run`] prepares minibatches ahead on a loader
//! thread, which also evaluates copies of the net between batches; results are
//! the same as with [`Trainer::with_prefetch`]`(false)` and one evaluation thread.
//!
//! Two documented differences from the seed: the logged loss is the one of the
//! backprop pass, before the update (the seed runs a second forward pass after it),
//! and the loss is computed from the logits by log-sum-exp (finite for any logits)
//! rather than with the book's `+1e-7` guard.
//!
//! A non-finite loss, gradient or weight stops the run with
//! [`TrainError::Diverged`], which names the iteration.
//!
//! ```
//! use bp_train::{SplitView, TrainConfig, TrainData, Trainer};
//! use ndarray::Array2;
//!
//! // A tiny two-class set: class 0 lights the left half of a 4-pixel image,
//! // class 1 the right half.
//! let labels: Vec<u8> = (0..40).map(|i| (i % 2) as u8).collect();
//! let images = Array2::from_shape_fn((40, 4), |(i, j)| {
//!     let lit = (j < 2) == (labels[i] == 0);
//!     if lit { 200 + (i % 50) as u8 } else { (i % 7) as u8 }
//! });
//! let split = SplitView::new(images.view(), &labels)?;
//! let data = TrainData::new(split, split, 2)?;
//!
//! let config = TrainConfig { iters: 100, batch_size: 10, hidden: vec![8], weight_init_std: 0.5, ..TrainConfig::default() };
//! let trained = Trainer::<f32>::new(&config, data)?.run(&mut ())?;
//!
//! // Evaluations after iterations 0, 4, 8, ... (40 examples / batch 10 = every 4).
//! assert_eq!(trained.history.evaluations.len(), 25);
//! assert_eq!(trained.history.loss.len(), 100);
//! assert_eq!(trained.history.final_test_acc(), Some(1.0));
//! # Ok::<(), bp_train::TrainError>(())
//! ```

mod checkpoint;
mod config;
mod data;
mod error;
mod eval;
mod input;
mod loader;
mod optim;
mod run;
mod trainer;
mod vector;

pub use checkpoint::{
    load_checkpoint, read_checkpoint_info, save_checkpoint, tensor_names, with_checkpoint,
    Checkpoint, CheckpointInfo, CheckpointTask, CHECKPOINT_FORMAT,
};
pub use config::{OptimizerKind, Precision, Sampling, TrainConfig, DEFAULT_SEED};
pub use data::{BatchBuffer, SplitView, TrainData};
pub use error::{Result, TrainError};
pub use eval::{
    accuracy, confusion_matrix, default_eval_threads, predictions, ConfusionMatrix, EVAL_CHUNK,
};
pub use input::{density, InputPath, SPARSE_MAX_DENSITY};
pub use optim::{build_optimizer, Adam, Momentum, Optimizer, Sgd};
pub use run::{run, RunConfig, RunOutcome, TrainedNet};
pub use trainer::{
    train, Evaluation, GradNorms, History, Observer, Plan, Timings, Trained, Trainer,
};

pub use bp_layers::{Activation, MultiLayerNet};
