//! Recorded computational graphs: what every edge carried forward and backward.
//!
//! A [`Trace`] is plain data: [`Node`]s (inputs, operations, outputs) and
//! [`Edge`]s, each edge with the value that flowed along it in the forward pass
//! and the gradient that flowed back, as numbers and as display text. Nothing
//! here is typed in by hand: every number comes from the layers' own `forward`
//! and `backward` calls.
//!
//! * [`Tape`] records a graph of scalar [`MulLayer`]s and [`AddLayer`]s as it
//!   runs them, then runs their backward passes in reverse;
//!   [`buy_apple`] and [`buy_apple_orange`] are the book's two shopping graphs
//!   (figures 5-16 and 5-17), which the examples print and `cargo xtask graph`
//!   draws.
//! * [`net`] runs a [`MultiLayerNet`]'s own layers on one batch and records the
//!   shape and Frobenius norm of every activation and parameter, and of its
//!   gradient.
//!
//! ```
//! use bp_layers::trace::{buy_apple, NodeKind};
//!
//! let graph = buy_apple(100.0, 2.0, 1.1)?;
//! let apple = graph.edge("apple")?;
//! assert_eq!((apple.forward_text.as_str(), apple.backward_text.as_str()), ("100", "2.2"));
//! assert_eq!(graph.edge("price")?.forward_text, "220");
//! assert_eq!(graph.edge("tax")?.backward, 200.0);
//! assert_eq!(graph.nodes[graph.edge("price")?.to].kind, NodeKind::Output);
//!
//! // A label that is not in the graph is an error naming the ones that are.
//! assert!(graph.edge("banana").unwrap_err().to_string().contains("apple num"));
//! # Ok::<(), bp_layers::LayerError>(())
//! ```

use bp_core::{Float, Targets};
use ndarray::{ArrayBase, ArrayView2, Data, Dimension};

use crate::{round_sig, AddLayer, LayerError, MulLayer, MultiLayerNet, Result};

/// Significant digits of the scalar graphs' texts (enough to show `2.2`, not `2.2000000000000002`).
const SCALAR_DIGITS: usize = 10;
/// Significant digits of the norms in a net's trace.
const NORM_DIGITS: usize = 4;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A value fed into the graph (an input or a parameter).
    Input,
    /// An operation or layer.
    Op,
    /// The graph's result.
    Output,
}

/// A node of a recorded graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// What the node is.
    pub kind: NodeKind,
    /// Its name: `apple`, `×`, `+`, `Affine1`, `loss`, ...
    pub label: String,
}

/// An edge of a recorded graph: one value flowing from one node into another.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// Index of the node that produced the value.
    pub from: usize,
    /// Index of the node that consumed it.
    pub to: usize,
    /// The value's name: `apple`, `apple price`, `x`, `W1`, `a1`, ...
    pub label: String,
    /// The tensor's shape, empty for a scalar.
    pub shape: Vec<usize>,
    /// The forward value (a scalar), or the tensor's Frobenius norm.
    pub forward: f64,
    /// The gradient of the output with respect to the value, or its Frobenius norm.
    pub backward: f64,
    /// `forward` as it is displayed.
    pub forward_text: String,
    /// `backward` as it is displayed.
    pub backward_text: String,
}

impl Edge {
    /// The shape as `100×784`; empty for a scalar.
    pub fn shape_text(&self) -> String {
        self.shape
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join("×")
    }
}

/// A recorded graph: nodes and edges, in the order they were created.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trace {
    /// The nodes.
    pub nodes: Vec<Node>,
    /// The edges; a node's inputs come in the order of its arguments.
    pub edges: Vec<Edge>,
}

impl Trace {
    /// The first edge labelled `label`.
    pub fn edge(&self, label: &str) -> Result<&Edge> {
        self.edges.iter().find(|e| e.label == label).ok_or_else(|| {
            let known: Vec<&str> = self.edges.iter().map(|e| e.label.as_str()).collect();
            LayerError::Trace(format!(
                "no edge labelled {label:?} (the edges are {})",
                known.join(", ")
            ))
        })
    }

    fn node(&mut self, kind: NodeKind, label: impl Into<String>) -> usize {
        self.nodes.push(Node {
            kind,
            label: label.into(),
        });
        self.nodes.len() - 1
    }
}

/// A value recorded on a [`Tape`], to pass to later operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value(usize);

#[derive(Debug, Clone)]
enum ScalarLayer {
    Mul(MulLayer),
    Add(AddLayer),
}

#[derive(Debug, Clone)]
struct Slot {
    label: String,
    value: f64,
    /// The node that produced it.
    node: usize,
}

/// One use of a value: an edge into a node, with the gradient that came back along it.
#[derive(Debug, Clone)]
struct Use {
    value: usize,
    node: usize,
    grad: f64,
}

#[derive(Debug, Clone)]
struct Op {
    layer: ScalarLayer,
    /// The uses that carry its two inputs.
    inputs: [usize; 2],
    output: usize,
}

/// Records a graph of scalar layers while running them forward; [`finish`](Tape::finish)
/// runs them backward and returns the [`Trace`].
///
/// A value may feed several operations; its gradient is then the sum of what
/// comes back along each edge.
#[derive(Debug, Clone, Default)]
pub struct Tape {
    trace: Trace,
    slots: Vec<Slot>,
    uses: Vec<Use>,
    ops: Vec<Op>,
}

impl Tape {
    /// An empty tape.
    pub fn new() -> Self {
        Self::default()
    }

    /// A value fed into the graph, drawn as an input node named `label`.
    pub fn input(&mut self, label: &str, value: f64) -> Value {
        let node = self.trace.node(NodeKind::Input, label);
        self.slot(label, value, node)
    }

    /// Runs a fresh [`MulLayer`] forward on `x` and `y`; the product is named `label`.
    pub fn mul(&mut self, label: &str, x: Value, y: Value) -> Result<Value> {
        let (a, b) = (self.get(x)?, self.get(y)?);
        let mut layer = MulLayer::new();
        let out = layer.forward(a, b);
        self.op("×", ScalarLayer::Mul(layer), label, [x, y], out)
    }

    /// Runs an [`AddLayer`] forward on `x` and `y`; the sum is named `label`.
    pub fn add(&mut self, label: &str, x: Value, y: Value) -> Result<Value> {
        let (a, b) = (self.get(x)?, self.get(y)?);
        let mut layer = AddLayer::new();
        let out = layer.forward(a, b);
        self.op("+", ScalarLayer::Add(layer), label, [x, y], out)
    }

    /// The forward value of `v`.
    pub fn get(&self, v: Value) -> Result<f64> {
        self.slots.get(v.0).map(|s| s.value).ok_or_else(|| {
            LayerError::Trace(format!(
                "value #{} is not on this tape (it holds {})",
                v.0,
                self.slots.len()
            ))
        })
    }

    /// Makes `out` the result, drawn as an output node named `label`; feeds
    /// `dout` back through every layer in reverse order and returns the trace.
    pub fn finish(mut self, out: Value, label: &str, dout: f64) -> Result<Trace> {
        self.get(out)?;
        let node = self.trace.node(NodeKind::Output, label);
        self.uses.push(Use {
            value: out.0,
            node,
            grad: dout,
        });
        // Every use of an op's output belongs to a later op (or the output), so
        // walking the ops backwards sees each output's gradient complete.
        for op in self.ops.iter().rev() {
            let grad = self.gradient_of(op.output);
            let (dx, dy) = match &op.layer {
                ScalarLayer::Mul(l) => l.backward(grad)?,
                ScalarLayer::Add(l) => l.backward(grad),
            };
            self.uses[op.inputs[0]].grad = dx;
            self.uses[op.inputs[1]].grad = dy;
        }
        let mut trace = self.trace;
        for u in &self.uses {
            let slot = &self.slots[u.value];
            trace.edges.push(Edge {
                from: slot.node,
                to: u.node,
                label: slot.label.clone(),
                shape: Vec::new(),
                forward: slot.value,
                backward: u.grad,
                forward_text: round_sig(slot.value, SCALAR_DIGITS).to_string(),
                backward_text: round_sig(u.grad, SCALAR_DIGITS).to_string(),
            });
        }
        Ok(trace)
    }

    fn gradient_of(&self, value: usize) -> f64 {
        self.uses
            .iter()
            .filter(|u| u.value == value)
            .map(|u| u.grad)
            .sum()
    }

    fn slot(&mut self, label: &str, value: f64, node: usize) -> Value {
        self.slots.push(Slot {
            label: label.to_string(),
            value,
            node,
        });
        Value(self.slots.len() - 1)
    }

    fn op(
        &mut self,
        symbol: &str,
        layer: ScalarLayer,
        label: &str,
        [x, y]: [Value; 2],
        out: f64,
    ) -> Result<Value> {
        let node = self.trace.node(NodeKind::Op, symbol);
        let mut inputs = [0; 2];
        for (slot, v) in inputs.iter_mut().zip([x, y]) {
            self.uses.push(Use {
                value: v.0,
                node,
                grad: 0.0,
            });
            *slot = self.uses.len() - 1;
        }
        let output = self.slot(label, out, node);
        self.ops.push(Op {
            layer,
            inputs,
            output: output.0,
        });
        Ok(output)
    }
}

/// The book's figure 5-16: `apple_num` apples at `apple` each, times `tax`.
///
/// Edges: `apple`, `apple num`, `apple price`, `tax`, `price` (with `dprice = 1`).
pub fn buy_apple(apple: f64, apple_num: f64, tax: f64) -> Result<Trace> {
    let mut g = Tape::new();
    let apple = g.input("apple", apple);
    let apple_num = g.input("apple num", apple_num);
    let tax = g.input("tax", tax);

    let apple_price = g.mul("apple price", apple, apple_num)?;
    let price = g.mul("price", apple_price, tax)?;
    g.finish(price, "price", 1.0)
}

/// The book's figure 5-17: apples and oranges, summed, times `tax`.
///
/// Edges: `apple`, `apple num`, `orange`, `orange num`, `apple price`,
/// `orange price`, `all price`, `tax`, `price` (with `dprice = 1`).
pub fn buy_apple_orange(
    apple: f64,
    apple_num: f64,
    orange: f64,
    orange_num: f64,
    tax: f64,
) -> Result<Trace> {
    let mut g = Tape::new();
    let apple = g.input("apple", apple);
    let apple_num = g.input("apple num", apple_num);
    let orange = g.input("orange", orange);
    let orange_num = g.input("orange num", orange_num);
    let tax = g.input("tax", tax);

    let apple_price = g.mul("apple price", apple, apple_num)?;
    let orange_price = g.mul("orange price", orange, orange_num)?;
    let all_price = g.add("all price", apple_price, orange_price)?;
    let price = g.mul("price", all_price, tax)?;
    g.finish(price, "price", 1.0)
}

/// The Frobenius norm, summed in `f64`.
fn norm<F: Float, S: Data<Elem = F>, D: Dimension>(a: &ArrayBase<S, D>) -> f64 {
    a.iter()
        .map(|&v| {
            let v = v.to_f64_exact();
            v * v
        })
        .sum::<f64>()
        .sqrt()
}

/// `v` to `digits` significant digits, without trailing zeros; exponent form
/// outside `[1e-4, 1e6)`.
fn significant(v: f64, digits: usize) -> String {
    let a = v.abs();
    if v == 0.0 || !v.is_finite() {
        return v.to_string();
    }
    if !(1e-4..1e6).contains(&a) {
        return format!("{v:.*e}", digits.saturating_sub(1));
    }
    let magnitude = a.log10().floor() as i32;
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// An edge of a net's trace whose gradient is filled in on the way back.
fn tensor_edge<F: Float, S: Data<Elem = F>, D: Dimension>(
    trace: &mut Trace,
    from: usize,
    to: usize,
    label: &str,
    value: &ArrayBase<S, D>,
) -> usize {
    let forward = norm(value);
    trace.edges.push(Edge {
        from,
        to,
        label: label.to_string(),
        shape: value.shape().to_vec(),
        forward,
        backward: f64::NAN,
        forward_text: format!("‖{label}‖ = {}", significant(forward, NORM_DIGITS)),
        backward_text: String::new(),
    });
    trace.edges.len() - 1
}

fn set_gradient<F: Float, S: Data<Elem = F>, D: Dimension>(
    trace: &mut Trace,
    edge: usize,
    grad: &ArrayBase<S, D>,
) {
    let e = &mut trace.edges[edge];
    e.backward = norm(grad);
    e.backward_text = format!(
        "‖∂L/∂{}‖ = {}",
        e.label,
        significant(e.backward, NORM_DIGITS)
    );
}

/// Runs `net`'s layers forward and backward on the batch `(x, t)` and records
/// the layer graph `x → Affine1 → Relu1 → … → SoftmaxWithLoss → loss`.
///
/// Each Affine layer `k` takes `Wk`, its input and `bk` (in that order);
/// its output is `ak`, the activation's output `zk`. Every tensor edge holds
/// the Frobenius norms of the tensor and of its gradient `∂L/∂·`; the last edge,
/// `L`, holds the loss and `∂L/∂L = 1`. The layers' caches and parameter
/// gradients are left as after [`MultiLayerNet::loss`] then `backward`.
pub fn net<F: Float>(
    net: &mut MultiLayerNet<F>,
    x: ArrayView2<'_, F>,
    t: Targets<'_, F>,
) -> Result<Trace> {
    let (mut layers, last) = net.layers_mut();
    let mut trace = Trace::default();
    let mut source = trace.node(NodeKind::Input, "x");
    let mut label = "x".to_string();
    let mut h = x.to_owned();
    // Per layer: the edge into it, and the edges of its parameters.
    let mut edges = Vec::with_capacity(layers.len());
    let mut affine = 0;
    for layer in layers.iter_mut() {
        let params = layer.params();
        let n = if params.is_empty() {
            affine
        } else {
            affine + 1
        };
        let node = trace.node(NodeKind::Op, format!("{}{n}", layer.name()));
        let inputs: Vec<usize> = params
            .iter()
            .map(|p| trace.node(NodeKind::Input, p.name))
            .collect();
        // The edges in the book's order: W, the layer's input, b.
        let mut param_edges = Vec::with_capacity(params.len());
        let mut in_edge = None;
        for (i, (p, &input)) in params.iter().zip(&inputs).enumerate() {
            if i == 1 {
                in_edge = Some(tensor_edge(&mut trace, source, node, &label, &h));
            }
            param_edges.push(tensor_edge(&mut trace, input, node, p.name, &p.value));
        }
        let in_edge = in_edge.unwrap_or_else(|| tensor_edge(&mut trace, source, node, &label, &h));
        drop(params);
        edges.push((in_edge, param_edges));
        h = layer.forward(h.view())?;
        let out = if layer.params().is_empty() { "z" } else { "a" };
        affine = n;
        (source, label) = (node, format!("{out}{n}"));
    }
    let softmax = trace.node(NodeKind::Op, "SoftmaxWithLoss");
    let scores_edge = tensor_edge(&mut trace, source, softmax, &label, &h);
    let loss = last.forward(h.view(), t)?;
    let output = trace.node(NodeKind::Output, "loss");
    let loss = loss.to_f64_exact();
    trace.edges.push(Edge {
        from: softmax,
        to: output,
        label: "L".into(),
        shape: Vec::new(),
        forward: loss,
        backward: 1.0,
        forward_text: format!("L = {}", significant(loss, NORM_DIGITS)),
        backward_text: "∂L/∂L = 1".into(),
    });

    let mut d = last.backward(F::one())?;
    set_gradient(&mut trace, scores_edge, &d);
    for (layer, (in_edge, param_edges)) in layers.iter_mut().zip(&edges).rev() {
        // The full backward, dx of the first layer included: the graph shows ∂L/∂x too.
        d = layer.backward(d.view())?;
        set_gradient(&mut trace, *in_edge, &d);
        for (p, &edge) in layer.params().iter().zip(param_edges) {
            set_gradient(&mut trace, edge, &p.grad);
        }
    }
    Ok(trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits() {
        assert_eq!(significant(2.304567, 4), "2.305");
        assert_eq!(significant(93.5249, 4), "93.52");
        assert_eq!(significant(0.000123456, 4), "0.0001235");
        assert_eq!(significant(1.0, 4), "1");
        assert_eq!(significant(12345.6, 4), "12346");
        assert_eq!(significant(1.5e-7, 4), "1.500e-7");
        assert_eq!(significant(0.0, 4), "0");
    }

    #[test]
    fn a_value_used_twice_gets_both_gradients() {
        // y = x * x: dy/dx = 2x, one x from each edge.
        let mut g = Tape::new();
        let x = g.input("x", 3.0);
        let y = g.mul("y", x, x).unwrap();
        let t = g.finish(y, "y", 1.0).unwrap();
        assert_eq!(t.edge("y").unwrap().forward, 9.0);
        let grads: Vec<f64> = t
            .edges
            .iter()
            .filter(|e| e.label == "x")
            .map(|e| e.backward)
            .collect();
        assert_eq!(grads, [3.0, 3.0]);

        // z = (x + x) * x
        let mut g = Tape::new();
        let x = g.input("x", 2.0);
        let s = g.add("s", x, x).unwrap();
        let z = g.mul("z", s, x).unwrap();
        let t = g.finish(z, "z", 1.0).unwrap();
        let dx: f64 = t
            .edges
            .iter()
            .filter(|e| e.label == "x")
            .map(|e| e.backward)
            .sum();
        assert_eq!(dx, 8.0); // d(2x²)/dx = 4x
    }

    #[test]
    fn values_of_another_tape_are_errors() {
        let mut other = Tape::new();
        other.input("a", 1.0);
        let far = other.input("b", 2.0);
        let mut g = Tape::new();
        let a = g.input("a", 1.0);
        let err = g.mul("c", a, far).unwrap_err();
        assert!(matches!(err, LayerError::Trace(_)), "{err}");
        assert!(g.finish(far, "out", 1.0).is_err());
    }
}
