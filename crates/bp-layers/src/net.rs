//! Networks: [`MultiLayerNet`] (Affine + activation repeated, then SoftmaxWithLoss)
//! and the book's [`TwoLayerNet`], with backprop and numerical gradients.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;

use bp_core::{argmax_rows, init_normal, numerical_gradient_of, Float, Targets};
use ndarray::{Array1, Array2, ArrayD, ArrayViewD, Zip};
use rand::Rng;

use crate::{
    Affine, InputLayer, Layer, LayerError, Param, ParamMut, Relu, Result, Sigmoid, SoftmaxWithLoss,
};

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

/// An activation layer of a net.
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

/// The layers after the first, in pairs: `Relu1, Affine2`, `Relu2, Affine3`, ...
#[derive(Debug, Clone)]
struct Hidden<F> {
    activation: ActivationLayer<F>,
    affine: Affine<F>,
}

/// Gradients by parameter name, in layer order (`W1 b1 W2 b2 ...`): what
/// [`MultiLayerNet::numerical_gradient`] returns, and a copy of a [`Backprop`]'s.
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

/// What [`MultiLayerNet::gradient`] returns: the batch's loss, and every
/// parameter beside its gradient, as an optimizer's `update` takes them.
///
/// The gradients stay in the layers (no copy); `params` borrows the net.
#[derive(Debug)]
pub struct Backprop<'a, F> {
    /// The loss of the forward pass.
    pub loss: F,
    /// `W1 b1 W2 b2 ...`, each with its gradient.
    pub params: Vec<ParamMut<'a, F>>,
}

impl<F: Clone> Backprop<'_, F> {
    /// The gradient of the parameter `name`.
    pub fn get(&self, name: &str) -> Option<ArrayViewD<'_, F>> {
        self.params
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.grad.view())
    }

    /// A copy of the gradients, to keep after the net changes.
    pub fn to_gradients(&self) -> Gradients<F> {
        Gradients {
            entries: self
                .params
                .iter()
                .map(|p| (p.name.to_string(), p.grad.to_owned()))
                .collect(),
        }
    }
}

/// A fully connected net: `Affine -> act -> ... -> Affine -> SoftmaxWithLoss`.
///
/// The first layer `L1` is an [`InputLayer`]: [`Affine`] by default, or
/// [`SparseAffine`](crate::sparse::SparseAffine) for sparse pixels; the layers
/// after it are the book's. Inputs are batches of `L1`.
///
/// # Shapes
/// Inputs are `(batch, input)`, scores `(batch, output)`.
#[derive(Debug, Clone)]
pub struct MultiLayerNet<F, L1 = Affine<F>> {
    first: L1,
    /// The layers after the first: `act1, Affine2, act2, Affine3, ...`.
    layers: Vec<Hidden<F>>,
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
        let mut affines = affines.into_iter();
        let first = affines
            .next()
            .ok_or_else(|| LayerError::Config("no layers".into()))?;
        let layers = affines
            .map(|affine| Hidden {
                activation: ActivationLayer::new(activation),
                affine,
            })
            .collect();
        Ok(Self {
            first,
            layers,
            last: SoftmaxWithLoss::new(),
            activation,
        })
    }

    /// Every layer but the last, first to last, and the last, for [`crate::trace::net`].
    pub(crate) fn layers_mut(&mut self) -> (Vec<&mut dyn Layer<F>>, &mut SoftmaxWithLoss<F>) {
        let first: &mut dyn Layer<F> = &mut self.first;
        let mut layers = vec![first];
        for h in &mut self.layers {
            layers.push(h.activation.layer());
            layers.push(&mut h.affine);
        }
        (layers, &mut self.last)
    }
}

impl<F: Float, L1: InputLayer<F>> MultiLayerNet<F, L1> {
    /// The same net with another implementation of its first layer (same
    /// weights), e.g. `MultiLayerNet<F, SparseAffine<F>>` from a dense one.
    pub fn with_input_layer<L2: InputLayer<F> + From<L1>>(self) -> MultiLayerNet<F, L2> {
        MultiLayerNet {
            first: L2::from(self.first),
            layers: self.layers,
            last: self.last,
            activation: self.activation,
        }
    }

    /// Layer widths: `[input, hidden..., output]`.
    pub fn sizes(&self) -> Vec<usize> {
        std::iter::once(self.input_size())
            .chain(self.affines().into_iter().map(Affine::output_size))
            .collect()
    }

    /// Input width.
    pub fn input_size(&self) -> usize {
        self.first.affine().input_size()
    }

    /// Number of classes.
    pub fn output_size(&self) -> usize {
        self.layers
            .last()
            .map_or(self.first.affine(), |h| &h.affine)
            .output_size()
    }

    /// The activation between Affine layers.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The Affine layers, first to last.
    pub fn affines(&self) -> Vec<&Affine<F>> {
        std::iter::once(self.first.affine())
            .chain(self.layers.iter().map(|h| &h.affine))
            .collect()
    }

    /// The Affine layers, mutable (e.g. to load weights).
    pub fn affines_mut(&mut self) -> Vec<&mut Affine<F>> {
        std::iter::once(self.first.affine_mut())
            .chain(self.layers.iter_mut().map(|h| &mut h.affine))
            .collect()
    }

    /// Class scores (logits) for `x`: forward through every layer in turn.
    pub fn predict(&mut self, x: L1::Batch<'_>) -> Result<Array2<F>> {
        let mut h = self.first.forward(x)?;
        for Hidden { activation, affine } in &mut self.layers {
            h = activation.layer().forward(h.view())?;
            h = Layer::forward(affine, h.view())?;
        }
        Ok(h)
    }

    /// The loss of `predict(x)` against `t`, through [`SoftmaxWithLoss`].
    pub fn loss(&mut self, x: L1::Batch<'_>, t: Targets<'_, F>) -> Result<F> {
        let y = self.predict(x)?;
        self.last.forward(y.view(), t)
    }

    /// Fraction of rows whose largest score is the target class.
    pub fn accuracy(&mut self, x: L1::Batch<'_>, t: Targets<'_, F>) -> Result<f64> {
        let y = self.predict(x)?;
        t.check("accuracy", y.nrows(), y.ncols())?;
        let predicted = argmax_rows(y.view());
        let correct = Zip::from(&Array1::from(predicted))
            .and(&Array1::from(t.classes()))
            .fold(0usize, |n, p, t| n + usize::from(p == t));
        Ok(correct as f64 / y.nrows() as f64)
    }

    /// The book's `gradient(x, t)`: the forward pass ([`loss`](Self::loss)),
    /// then `SoftmaxWithLoss::backward(1)` and every layer's backward in
    /// reverse order. Returns the loss and each parameter beside its gradient.
    pub fn gradient(&mut self, x: L1::Batch<'_>, t: Targets<'_, F>) -> Result<Backprop<'_, F>> {
        let loss = self.loss(x, t)?;
        let mut dout = self.last.backward(F::one())?;
        for Hidden { activation, affine } in self.layers.iter_mut().rev() {
            dout = Layer::backward(affine, dout.view())?;
            dout = activation.layer().backward(dout.view())?;
        }
        self.first.backward(x, dout.view())?;
        Ok(Backprop {
            loss,
            params: self.params_mut(),
        })
    }

    /// The book's `numerical_gradient(x, t)`: central differences of the loss for
    /// every parameter element. Slow (two forward passes per element): for checks.
    pub fn numerical_gradient(
        &mut self,
        x: L1::Batch<'_>,
        t: Targets<'_, F>,
    ) -> Result<Gradients<F>> {
        let loss = |n: &mut Self| n.loss(x, t);
        let dw = numerical_gradient_of(self, |n| &mut n.first.affine_mut().w, loss)?;
        let db = numerical_gradient_of(self, |n| &mut n.first.affine_mut().b, loss)?;
        let mut entries = vec![
            ("W1".to_string(), dw.into_dyn()),
            ("b1".into(), db.into_dyn()),
        ];
        for k in 0..self.layers.len() {
            let dw = numerical_gradient_of(self, |n| &mut n.layers[k].affine.w, loss)?;
            let db = numerical_gradient_of(self, |n| &mut n.layers[k].affine.b, loss)?;
            entries.push((format!("W{}", k + 2), dw.into_dyn()));
            entries.push((format!("b{}", k + 2), db.into_dyn()));
        }
        Ok(Gradients { entries })
    }

    /// Parameters and gradients, `W1 b1 W2 b2 ...`.
    pub fn params(&self) -> Vec<Param<'_, F>> {
        self.affines()
            .into_iter()
            .flat_map(|a| a.params())
            .collect()
    }

    /// Parameters to update and their gradients, `W1 b1 W2 b2 ...`.
    pub fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        self.affines_mut()
            .into_iter()
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
pub fn gradient_check<F: Float, L1: InputLayer<F>>(
    net: &mut MultiLayerNet<F, L1>,
    x: L1::Batch<'_>,
    t: Targets<'_, F>,
) -> Result<Vec<GradCheck>> {
    let numerical = net.numerical_gradient(x, t)?;
    let backprop = net.gradient(x, t)?;
    Ok(backprop
        .params
        .iter()
        .zip(numerical.iter())
        .map(|(b, (_, n))| compare(b.name, &b.grad, &n.view()))
        .collect())
}

fn compare<F: Float>(name: &str, a: &ArrayViewD<'_, F>, b: &ArrayViewD<'_, F>) -> GradCheck {
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
