//! Networks: [`MultiLayerNet`] (Affine + activation repeated, then SoftmaxWithLoss)
//! and the book's [`TwoLayerNet`], with backprop and numerical gradients.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;

use bp_core::{argmax_rows, init_normal, numerical_gradient_of, Float, Targets};
use ndarray::{Array1, Array2, ArrayD, ArrayView2, Zip};
use rand::Rng;

use crate::{Affine, Layer, LayerError, Param, ParamMut, Relu, Result, Sigmoid, SoftmaxWithLoss};

/// The activation between Affine layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// [`Relu`], the book's choice.
    Relu,
    /// [`Sigmoid`].
    Sigmoid,
}

impl Activation {
    /// Lower-case name: `relu` or `sigmoid`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = LayerError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "relu" => Ok(Activation::Relu),
            "sigmoid" => Ok(Activation::Sigmoid),
            _ => Err(LayerError::Config(format!(
                "unknown activation {s:?} (expected relu or sigmoid)"
            ))),
        }
    }
}

/// One activation layer of a net.
#[derive(Debug, Clone)]
enum ActivationLayer<F> {
    Relu(Relu),
    Sigmoid(Sigmoid<F>),
}

impl<F: Float> ActivationLayer<F> {
    fn new(kind: Activation) -> Self {
        match kind {
            Activation::Relu => Self::Relu(Relu::new()),
            Activation::Sigmoid => Self::Sigmoid(Sigmoid::new()),
        }
    }

    fn layer(&mut self) -> &mut dyn Layer<F> {
        match self {
            Self::Relu(l) => l,
            Self::Sigmoid(l) => l,
        }
    }
}

/// Gradients by parameter name, in layer order (`W1 b1 W2 b2 ...`).
#[derive(Debug, Clone, PartialEq)]
pub struct Gradients<F> {
    entries: Vec<(String, ArrayD<F>)>,
}

impl<F> Gradients<F> {
    /// The gradient of the parameter `name`.
    pub fn get(&self, name: &str) -> Option<&ArrayD<F>> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, g)| g)
    }

    /// `(name, gradient)` pairs in layer order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ArrayD<F>)> {
        self.entries.iter().map(|(n, g)| (n.as_str(), g))
    }
}

/// A net's layers, borrowed to run them one by one.
pub(crate) struct LayersMut<'a, F> {
    /// The Affine layers, first to last.
    pub affines: &'a mut [Affine<F>],
    /// The activations between them.
    pub activations: Vec<&'a mut dyn Layer<F>>,
    /// The output layer.
    pub last: &'a mut SoftmaxWithLoss<F>,
}

/// A fully connected net: `Affine -> act -> ... -> Affine -> SoftmaxWithLoss`.
///
/// # Shapes
/// Inputs are `(batch, input)`, scores `(batch, output)`.
#[derive(Debug, Clone)]
pub struct MultiLayerNet<F> {
    affines: Vec<Affine<F>>,
    activations: Vec<ActivationLayer<F>>,
    last: SoftmaxWithLoss<F>,
    activation: Activation,
}

impl<F: Float> MultiLayerNet<F> {
    /// A net with layer widths `input, hidden..., output`, weights drawn from
    /// `N(0, weight_init_std²)` with `rng` and zero biases.
    pub fn new<R: Rng + ?Sized>(
        input: usize,
        hidden: &[usize],
        output: usize,
        activation: Activation,
        weight_init_std: F,
        rng: &mut R,
    ) -> Result<Self> {
        let sizes: Vec<usize> = std::iter::once(input)
            .chain(hidden.iter().copied())
            .chain(std::iter::once(output))
            .collect();
        if let Some(pos) = sizes.iter().position(|&s| s == 0) {
            return Err(LayerError::Config(format!(
                "layer sizes must be positive, got {sizes:?} (zero at position {pos})"
            )));
        }
        let mut affines = Vec::with_capacity(sizes.len() - 1);
        for (i, pair) in sizes.windows(2).enumerate() {
            let w = init_normal(rng, pair[0], pair[1], weight_init_std)?;
            affines.push(Affine::new(w, Array1::zeros(pair[1]), i + 1)?);
        }
        let activations = (1..affines.len())
            .map(|_| ActivationLayer::new(activation))
            .collect();
        Ok(Self {
            affines,
            activations,
            last: SoftmaxWithLoss::new(),
            activation,
        })
    }

    /// Layer widths: `[input, hidden..., output]`.
    pub fn sizes(&self) -> Vec<usize> {
        std::iter::once(self.input_size())
            .chain(self.affines.iter().map(Affine::output_size))
            .collect()
    }

    /// Input width.
    pub fn input_size(&self) -> usize {
        self.affines[0].input_size()
    }

    /// Number of classes.
    pub fn output_size(&self) -> usize {
        self.affines[self.affines.len() - 1].output_size()
    }

    /// The activation between Affine layers.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The Affine layers, first to last.
    pub fn affines(&self) -> &[Affine<F>] {
        &self.affines
    }

    /// The Affine layers, mutable (e.g. to load weights).
    pub fn affines_mut(&mut self) -> &mut [Affine<F>] {
        &mut self.affines
    }

    /// Class scores (logits) for `x`. Caches nothing, so `&self` is enough.
    pub fn predict(&self, x: ArrayView2<'_, F>) -> Result<Array2<F>> {
        self.predict_after_first(self.affines[0].apply(x)?)
    }

    /// Class scores given the first Affine layer's output `h1` (see [`loss_after_first`](Self::loss_after_first)).
    pub fn predict_after_first(&self, h1: Array2<F>) -> Result<Array2<F>> {
        let mut h = h1;
        for (affine, act) in self.affines[1..].iter().zip(&self.activations) {
            match act {
                ActivationLayer::Relu(_) => h.mapv_inplace(bp_core::relu),
                ActivationLayer::Sigmoid(_) => h.mapv_inplace(bp_core::sigmoid),
            }
            h = affine.apply(h.view())?;
        }
        Ok(h)
    }

    /// Forward pass through every layer (caching for backward), then the loss.
    pub fn loss(&mut self, x: ArrayView2<'_, F>, t: Targets<'_, F>) -> Result<F> {
        let h = self.affines[0].forward(x)?;
        self.loss_after_first(h, t)
    }

    /// The forward pass after the first Affine layer, given its output `h1`.
    ///
    /// With [`backward_to_first`](Self::backward_to_first) this is the seam where
    /// another implementation of the first layer's products (such as the sparse
    /// path in [`crate::sparse`]) plugs in; the rest of the net stays the book's.
    pub fn loss_after_first(&mut self, h1: Array2<F>, t: Targets<'_, F>) -> Result<F> {
        let mut h = h1;
        for (act, affine) in self.activations.iter_mut().zip(&mut self.affines[1..]) {
            h = act.layer().forward(h.view())?;
            h = affine.forward(h.view())?;
        }
        self.last.forward(h.view(), t)
    }

    /// Fraction of rows whose largest score is the target class.
    pub fn accuracy(&self, x: ArrayView2<'_, F>, t: Targets<'_, F>) -> Result<f64> {
        let y = self.predict(x)?;
        t.check("accuracy", y.nrows(), y.ncols())?;
        let predicted = argmax_rows(y.view());
        let correct = Zip::from(&Array1::from(predicted))
            .and(&Array1::from(t.classes()))
            .fold(0usize, |n, p, t| n + usize::from(p == t));
        Ok(correct as f64 / y.nrows() as f64)
    }

    /// Backward pass after [`loss`](Self::loss): leaves every parameter's gradient
    /// in its layer (see [`params_mut`](Self::params_mut)).
    pub fn backward(&mut self) -> Result<()> {
        let dout = self.backward_to_first()?;
        // Nobody needs dL/dx of the input images: skip that product.
        self.affines[0].backward_params(dout.view())
    }

    /// Backward pass down to the output of the first Affine layer: fills the
    /// gradients of every later layer and returns `dL/dh1`.
    pub fn backward_to_first(&mut self) -> Result<Array2<F>> {
        let mut dout = self.last.backward(F::one())?;
        for (act, affine) in self
            .activations
            .iter_mut()
            .zip(&mut self.affines[1..])
            .rev()
        {
            dout = affine.backward(dout.view())?;
            dout = act.layer().backward(dout.view())?;
        }
        Ok(dout)
    }

    /// Loss then backward in one call; returns the loss, gradients stay in the layers.
    ///
    /// The same numbers as [`loss`](Self::loss) then [`backward`](Self::backward),
    /// but the first layer reads `x` where it is rather than caching a copy.
    pub fn backprop(&mut self, x: ArrayView2<'_, F>, t: Targets<'_, F>) -> Result<F> {
        let h1 = self.affines[0].apply(x)?;
        let loss = self.loss_after_first(h1, t)?;
        let dh1 = self.backward_to_first()?;
        self.affines[0].backward_params_for(x, dh1.view())?;
        Ok(loss)
    }

    /// The book's `gradient(x, t)`: backprop, returning a copy of every gradient.
    pub fn gradient(&mut self, x: ArrayView2<'_, F>, t: Targets<'_, F>) -> Result<Gradients<F>> {
        self.backprop(x, t)?;
        Ok(Gradients {
            entries: self
                .params()
                .into_iter()
                .map(|p| (p.name.to_string(), p.grad.to_owned()))
                .collect(),
        })
    }

    /// The book's `numerical_gradient(x, t)`: central differences of the loss for
    /// every parameter element. Slow (two forward passes per element): for checks.
    pub fn numerical_gradient(
        &mut self,
        x: ArrayView2<'_, F>,
        t: Targets<'_, F>,
    ) -> Result<Gradients<F>> {
        let mut entries = Vec::new();
        for k in 0..self.affines.len() {
            let dw = numerical_gradient_of(self, |n| &mut n.affines[k].w, |n| n.loss(x, t))?;
            let db = numerical_gradient_of(self, |n| &mut n.affines[k].b, |n| n.loss(x, t))?;
            entries.push((format!("W{}", k + 1), dw.into_dyn()));
            entries.push((format!("b{}", k + 1), db.into_dyn()));
        }
        Ok(Gradients { entries })
    }

    /// Every layer, for [`crate::trace::net`].
    pub(crate) fn layers_mut(&mut self) -> LayersMut<'_, F> {
        LayersMut {
            affines: &mut self.affines,
            activations: self.activations.iter_mut().map(|a| a.layer()).collect(),
            last: &mut self.last,
        }
    }

    /// Parameters and gradients, `W1 b1 W2 b2 ...`.
    pub fn params(&self) -> Vec<Param<'_, F>> {
        self.affines.iter().flat_map(|a| a.params()).collect()
    }

    /// Parameters to update and their gradients, `W1 b1 W2 b2 ...`.
    pub fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        self.affines
            .iter_mut()
            .flat_map(|a| a.params_mut())
            .collect()
    }
}

/// The book's two-layer net: `Affine1 -> Relu1 -> Affine2 -> SoftmaxWithLoss`.
///
/// It is a [`MultiLayerNet`] with one hidden layer and derefs to it, so
/// `predict`, `loss`, `accuracy`, `gradient` and `numerical_gradient` are there.
#[derive(Debug, Clone)]
pub struct TwoLayerNet<F>(MultiLayerNet<F>);

impl<F: Float> TwoLayerNet<F> {
    /// `TwoLayerNet(input_size, hidden_size, output_size, weight_init_std)` with a caller-seeded `rng`.
    pub fn new<R: Rng + ?Sized>(
        input_size: usize,
        hidden_size: usize,
        output_size: usize,
        weight_init_std: F,
        rng: &mut R,
    ) -> Result<Self> {
        MultiLayerNet::new(
            input_size,
            &[hidden_size],
            output_size,
            Activation::Relu,
            weight_init_std,
            rng,
        )
        .map(Self)
    }

    /// The underlying general net.
    pub fn into_inner(self) -> MultiLayerNet<F> {
        self.0
    }
}

impl<F> Deref for TwoLayerNet<F> {
    type Target = MultiLayerNet<F>;
    fn deref(&self) -> &MultiLayerNet<F> {
        &self.0
    }
}

impl<F> DerefMut for TwoLayerNet<F> {
    fn deref_mut(&mut self) -> &mut MultiLayerNet<F> {
        &mut self.0
    }
}

/// How far backprop is from central differences for one parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct GradCheck {
    /// Parameter name (`W1`, `b1`, ...).
    pub name: String,
    /// Mean of `|backprop - numerical|` over the elements: the book's figure.
    pub mean_abs_diff: f64,
    /// Largest `|backprop - numerical|`, divided by the largest magnitude of either
    /// gradient for this parameter (0 when both are zero).
    pub max_rel_err: f64,
}

/// Compares [`MultiLayerNet::gradient`] with [`MultiLayerNet::numerical_gradient`]
/// on `(x, t)`, one [`GradCheck`] per parameter. Run it in `f64`.
pub fn gradient_check<F: Float>(
    net: &mut MultiLayerNet<F>,
    x: ArrayView2<'_, F>,
    t: Targets<'_, F>,
) -> Result<Vec<GradCheck>> {
    let numerical = net.numerical_gradient(x, t)?;
    let backprop = net.gradient(x, t)?;
    Ok(backprop
        .iter()
        .zip(numerical.iter())
        .map(|((name, b), (_, n))| compare(name, b, n))
        .collect())
}

fn compare<F: Float>(name: &str, a: &ArrayD<F>, b: &ArrayD<F>) -> GradCheck {
    let (mut sum, mut max_diff, mut scale) = (0.0, 0.0_f64, 0.0_f64);
    for (&a, &b) in a.iter().zip(b.iter()) {
        let (a, b) = (a.to_f64_exact(), b.to_f64_exact());
        let d = (a - b).abs();
        sum += d;
        max_diff = max_diff.max(d);
        scale = scale.max(a.abs()).max(b.abs());
    }
    GradCheck {
        name: name.to_string(),
        mean_abs_diff: sum / a.len().max(1) as f64,
        max_rel_err: if scale > 0.0 { max_diff / scale } else { 0.0 },
    }
}
