//! Layers with explicit `forward` and `backward`, as in chapter 5 of
//! *Deep Learning from Scratch*, and the networks built from them.
//!
//! * [`MulLayer`] and [`AddLayer`]: the scalar nodes of the shopping graphs;
//! * [`Relu`], [`Sigmoid`], [`Affine`], [`SoftmaxWithLoss`]: each caches what its
//!   backward pass needs (a mask, an output, an input, probabilities and targets);
//! * [`TwoLayerNet`] and [`MultiLayerNet`]: Affine + activation repeated, then
//!   SoftmaxWithLoss, with backprop [`MultiLayerNet::gradient`],
//!   [`MultiLayerNet::numerical_gradient`] and [`gradient_check`];
//! * [`trace`]: graphs recorded while their layers run, with every edge's value
//!   and gradient (the shopping graphs, and a net's layer graph on one batch).
//!
//! Parameters are visible by name (`W1`, `b1`, `W2`, `b2`, ...) through
//! [`Layer::params_mut`], which is all an optimizer needs. Every fallible call
//! returns a [`LayerError`] naming the layer and the shapes involved; nothing
//! here reads files or knows about data sets.
//!
//! ```
//! use bp_core::Targets;
//! use bp_layers::{gradient_check, TwoLayerNet};
//! use ndarray::Array2;
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let mut net = TwoLayerNet::<f64>::new(4, 5, 3, 0.1, &mut rng).unwrap();
//! let x = Array2::from_shape_fn((2, 4), |(i, j)| (i + j) as f64 / 4.0);
//! let t = [2, 0];
//!
//! let loss = net.loss(x.view(), Targets::Labels(&t)).unwrap();
//! assert!((loss - 3.0_f64.ln()).abs() < 0.1); // near ln(classes) for small weights
//!
//! // Backprop agrees with central differences.
//! for check in gradient_check(&mut net, x.view(), Targets::Labels(&t)).unwrap() {
//!     assert!(check.mean_abs_diff < 1e-9, "{}: {}", check.name, check.mean_abs_diff);
//! }
//! ```

mod activation;
mod affine;
mod net;
mod scalar;
mod softmax_with_loss;
pub mod sparse;
pub mod trace;

pub use activation::{Relu, Sigmoid};
pub use affine::Affine;
pub use bp_core::{CoreError, Float, Targets};
pub use net::{
    gradient_check, Activation, Backprop, GradCheck, Gradients, MultiLayerNet, TwoLayerNet,
};
pub use scalar::{round_sig, AddLayer, MulLayer};
pub use softmax_with_loss::SoftmaxWithLoss;

use ndarray::{Array2, ArrayView2, ArrayViewD, ArrayViewMutD};

/// Errors of layers and networks.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LayerError {
    /// A shape, empty-batch or label error from the tensor helpers.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// `backward` was called on a layer that has not run `forward`.
    #[error("{layer}: backward called before forward")]
    BackwardBeforeForward {
        /// The layer.
        layer: String,
    },
    /// A network or layer was built with sizes or settings that cannot work.
    #[error("invalid network: {0}")]
    Config(String),
    /// A recorded graph was given a value it does not hold, or asked for an edge it lacks.
    #[error("trace: {0}")]
    Trace(String),
}

/// Result type of this crate.
pub type Result<T, E = LayerError> = std::result::Result<T, E>;

/// A named parameter and its gradient, read-only.
#[derive(Debug)]
pub struct Param<'a, F> {
    /// Name as in the book: `W1`, `b1`, ...
    pub name: &'a str,
    /// Current value.
    pub value: ArrayViewD<'a, F>,
    /// Gradient from the last backward pass (zeros before the first).
    pub grad: ArrayViewD<'a, F>,
}

/// A named parameter to update, with its gradient: what an optimizer walks.
#[derive(Debug)]
pub struct ParamMut<'a, F> {
    /// Name as in the book: `W1`, `b1`, ...
    pub name: &'a str,
    /// Current value, to update in place.
    pub value: ArrayViewMutD<'a, F>,
    /// Gradient from the last backward pass (zeros before the first).
    pub grad: ArrayViewD<'a, F>,
}

/// A layer of a computational graph: `forward` caches what `backward` needs.
///
/// # Shapes
/// Inputs and upstream gradients are `(batch, width)` matrices.
pub trait Layer<F: Float> {
    /// The layer's kind, used in error messages.
    fn name(&self) -> &str;

    /// Computes the output for `x` and caches what `backward` needs.
    fn forward(&mut self, x: ArrayView2<'_, F>) -> Result<Array2<F>>;

    /// Given `dout = dL/dout`, stores parameter gradients and returns `dL/dx`.
    /// Calling it before `forward` is an error.
    fn backward(&mut self, dout: ArrayView2<'_, F>) -> Result<Array2<F>>;

    /// Parameters with their gradients (none for activations).
    fn params(&self) -> Vec<Param<'_, F>> {
        Vec::new()
    }

    /// Parameters to update, with their gradients (none for activations).
    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        Vec::new()
    }
}

/// The first layer of a net: the affine map `x W1 + b1`, reading the batch in
/// the form it comes in.
///
/// [`Affine`] reads a dense `(batch, input)` matrix; [`sparse::SparseAffine`]
/// reads only the non-zero pixels of a [`sparse::SparseBatch`]. A net is built
/// with one or the other ([`MultiLayerNet::with_input_layer`]) and its
/// `predict`, `loss` and `gradient` do not know which.
///
/// Nothing comes before this layer, so its backward pass stops at `dW1` and
/// `db1`; it is handed the batch again rather than caching a copy of it.
pub trait InputLayer<F: Float>: Clone {
    /// A batch of inputs as this layer reads them.
    type Batch<'a>: Copy;

    /// Computes `x W + b`.
    fn forward(&mut self, x: Self::Batch<'_>) -> Result<Array2<F>>;

    /// Given the batch of the last `forward` and `dout = dL/dout`, stores `dW` and `db`.
    fn backward(&mut self, x: Self::Batch<'_>, dout: ArrayView2<'_, F>) -> Result<()>;

    /// The layer's parameters and their gradients, as an [`Affine`] layer holds them.
    fn affine(&self) -> &Affine<F>;

    /// The same, to update or load.
    fn affine_mut(&mut self) -> &mut Affine<F>;
}
