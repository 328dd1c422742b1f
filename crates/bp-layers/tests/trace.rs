//! Recorded graphs: the shopping graphs' numbers, and a net's trace against
//! gradients computed another way.

mod common;

use bp_core::{softmax, Targets};
use bp_layers::trace::{self, NodeKind, Trace};
use bp_layers::{Activation, LayerError, MultiLayerNet, TwoLayerNet};
use common::{rng, uniform};
use ndarray::{Array2, Axis};
use rand::Rng;

/// `(label, forward text, backward text)` of every edge, in order.
fn texts(t: &Trace) -> Vec<(&str, &str, &str)> {
    t.edges
        .iter()
        .map(|e| {
            (
                e.label.as_str(),
                e.forward_text.as_str(),
                e.backward_text.as_str(),
            )
        })
        .collect()
}

#[test]
fn buy_apple_has_figure_5_16s_numbers() {
    let t = trace::buy_apple(100.0, 2.0, 1.1).unwrap();
    assert_eq!(
        texts(&t),
        [
            ("apple", "100", "2.2"),
            ("apple num", "2", "110"),
            ("apple price", "200", "1.1"),
            ("tax", "1.1", "200"),
            ("price", "220", "1"),
        ]
    );
    let labels: Vec<(&str, NodeKind)> =
        t.nodes.iter().map(|n| (n.label.as_str(), n.kind)).collect();
    assert_eq!(
        labels,
        [
            ("apple", NodeKind::Input),
            ("apple num", NodeKind::Input),
            ("tax", NodeKind::Input),
            ("×", NodeKind::Op),
            ("×", NodeKind::Op),
            ("price", NodeKind::Output),
        ]
    );
    // apple and apple num feed the first ×, its product and tax the second.
    let ends: Vec<(usize, usize)> = t.edges.iter().map(|e| (e.from, e.to)).collect();
    assert_eq!(ends, [(0, 3), (1, 3), (3, 4), (2, 4), (4, 5)]);
    assert!(t
        .edges
        .iter()
        .all(|e| e.shape.is_empty() && e.shape_text().is_empty()));
}

#[test]
fn buy_apple_orange_has_figure_5_17s_numbers() {
    let t = trace::buy_apple_orange(100.0, 2.0, 150.0, 3.0, 1.1).unwrap();
    assert_eq!(
        texts(&t),
        [
            ("apple", "100", "2.2"),
            ("apple num", "2", "110"),
            ("orange", "150", "3.3"),
            ("orange num", "3", "165"),
            ("apple price", "200", "1.1"),
            ("orange price", "450", "1.1"),
            ("all price", "650", "1.1"),
            ("tax", "1.1", "650"),
            ("price", "715", "1"),
        ]
    );
    let ops: Vec<&str> = t
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Op)
        .map(|n| n.label.as_str())
        .collect();
    assert_eq!(ops, ["×", "×", "+", "×"]);
}

#[test]
fn other_inputs_flow_through_the_same_layers() {
    let t = trace::buy_apple(120.0, 3.0, 1.08).unwrap();
    let get = |l: &str| {
        let e = t.edge(l).unwrap();
        (e.forward, e.backward)
    };
    assert_eq!(get("apple"), (120.0, 3.0 * 1.08));
    assert_eq!(get("apple num"), (3.0, 120.0 * 1.08));
    assert_eq!(get("apple price"), (360.0, 1.08));
    assert_eq!(get("tax"), (1.08, 360.0));
    assert_eq!(t.edge("price").unwrap().forward_text, "388.8");
}

/// A batch shaped like MNIST's: 100 images of 784 pixels, mostly zero, and labels.
fn mnist_like(seed: u64) -> (Array2<f64>, Vec<usize>) {
    let mut r = rng(seed);
    let mut x = uniform(&mut r, 100, 784, 0.0, 1.0);
    x.mapv_inplace(|v| if v < 0.8 { 0.0 } else { v });
    let t = (0..100).map(|_| r.random_range(0..10)).collect();
    (x, t)
}

fn fro(a: &Array2<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn assert_close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-10 * want.abs().max(1e-300),
        "{what}: trace {got:e}, independent {want:e}"
    );
}

#[test]
fn net_trace_has_the_shapes_and_the_norms_of_an_independent_backprop() {
    let (x, labels) = mnist_like(1);
    let t = Targets::Labels(&labels);
    let mut net = TwoLayerNet::<f64>::new(784, 50, 10, 0.01, &mut rng(2)).unwrap();
    // A few steps, so that the biases are not zero and every norm is positive.
    for _ in 0..3 {
        for p in net.gradient(x.view(), t).unwrap().params {
            let mut v = p.value;
            v.scaled_add(-0.5, &p.grad);
        }
    }
    let tr = trace::net(&mut net, x.view(), t).unwrap();

    let ops: Vec<&str> = tr
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Op)
        .map(|n| n.label.as_str())
        .collect();
    assert_eq!(ops, ["Affine1", "Relu1", "Affine2", "SoftmaxWithLoss"]);
    let shapes: Vec<(&str, String)> = tr
        .edges
        .iter()
        .map(|e| (e.label.as_str(), e.shape_text()))
        .collect();
    let want = [
        ("W1", "784×50"),
        ("x", "100×784"),
        ("b1", "50"),
        ("a1", "100×50"),
        ("W2", "50×10"),
        ("z1", "100×50"),
        ("b2", "10"),
        ("a2", "100×10"),
        ("L", ""),
    ];
    let want: Vec<(&str, String)> = want.iter().map(|(l, s)| (*l, s.to_string())).collect();
    assert_eq!(shapes, want);
    for e in &tr.edges {
        assert!(
            e.forward.is_finite() && e.forward > 0.0,
            "{}: {}",
            e.label,
            e.forward
        );
        assert!(
            e.backward.is_finite() && e.backward > 0.0,
            "{}: {}",
            e.label,
            e.backward
        );
    }
    let loss_node = tr.edge("L").unwrap().to;
    assert_eq!(tr.nodes[loss_node].kind, NodeKind::Output);
    assert_eq!(tr.nodes[loss_node].label, "loss");

    // Parameter gradients: the net's own `gradient`, on the same batch.
    let grads = net.gradient(x.view(), t).unwrap();
    for name in ["W1", "b1", "W2", "b2"] {
        let g = grads.get(name).unwrap();
        let want = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        assert_close(
            &format!("∂L/∂{name}"),
            tr.edge(name).unwrap().backward,
            want,
        );
    }

    // Activations and their gradients, by hand with ndarray.
    let (w1, b1) = (&net.affines()[0].w, &net.affines()[0].b);
    let (w2, b2) = (&net.affines()[1].w, &net.affines()[1].b);
    let a1 = x.dot(w1) + b1;
    let z1 = a1.mapv(|v| v.max(0.0));
    let a2 = z1.dot(w2) + b2;
    let mut dscores = softmax(a2.view());
    for (mut row, &k) in dscores.axis_iter_mut(Axis(0)).zip(&labels) {
        row[k] -= 1.0;
    }
    dscores /= 100.0;
    let dz1 = dscores.dot(&w2.t());
    let da1 = &dz1 * &a1.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 });
    let dx = da1.dot(&w1.t());
    for (label, value, grad) in [
        ("x", &x, &dx),
        ("a1", &a1, &da1),
        ("z1", &z1, &dz1),
        ("a2", &a2, &dscores),
    ] {
        let e = tr.edge(label).unwrap();
        assert_close(&format!("‖{label}‖"), e.forward, fro(value));
        assert_close(&format!("‖∂L/∂{label}‖"), e.backward, fro(grad));
    }
    let loss = net.loss(x.view(), t).unwrap();
    assert_close("L", tr.edge("L").unwrap().forward, loss);
    assert_eq!(tr.edge("L").unwrap().backward, 1.0);

    // The texts show the same numbers, to four significant digits.
    let a1_edge = tr.edge("a1").unwrap();
    assert!(
        a1_edge.forward_text.starts_with("‖a1‖ = "),
        "{}",
        a1_edge.forward_text
    );
    let shown: f64 = a1_edge.forward_text["‖a1‖ = ".len()..].parse().unwrap();
    assert!((shown - a1_edge.forward).abs() <= 5e-4 * a1_edge.forward);
    assert!(tr
        .edge("W1")
        .unwrap()
        .backward_text
        .starts_with("‖∂L/∂W1‖ = "));
}

#[test]
fn deeper_sigmoid_nets_trace_every_layer_in_f32() {
    let (x, labels) = mnist_like(3);
    let x = x.mapv(|v| v as f32);
    let mut net =
        MultiLayerNet::<f32>::new(784, &[30, 20], 10, Activation::Sigmoid, 0.1, &mut rng(4))
            .unwrap();
    let tr = trace::net(&mut net, x.view(), Targets::Labels(&labels)).unwrap();
    let ops: Vec<&str> = tr
        .nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Op)
        .map(|n| n.label.as_str())
        .collect();
    assert_eq!(
        ops,
        [
            "Affine1",
            "Sigmoid1",
            "Affine2",
            "Sigmoid2",
            "Affine3",
            "SoftmaxWithLoss"
        ]
    );
    assert_eq!(tr.edge("z2").unwrap().shape, [100, 20]);
    assert_eq!(tr.edge("a3").unwrap().shape, [100, 10]);
    // The parameter gradients the trace leaves in the layers are the net's own.
    let left: Vec<f64> = net
        .params()
        .iter()
        .map(|p| {
            p.grad
                .iter()
                .map(|&v| f64::from(v).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    let traced: Vec<f64> = ["W1", "b1", "W2", "b2", "W3", "b3"]
        .iter()
        .map(|n| tr.edge(n).unwrap().backward)
        .collect();
    assert_eq!(left, traced);
}

#[test]
fn a_batch_of_the_wrong_width_is_an_error() {
    let mut net = TwoLayerNet::<f64>::new(784, 50, 10, 0.01, &mut rng(5)).unwrap();
    let x = Array2::<f64>::zeros((4, 100));
    let err = trace::net(&mut net, x.view(), Targets::Labels(&[0, 1, 2, 3])).unwrap_err();
    assert!(matches!(err, LayerError::Core(_)), "{err}");
    let x = Array2::<f64>::zeros((4, 784));
    let err = trace::net(&mut net, x.view(), Targets::Labels(&[0, 1])).unwrap_err();
    assert!(err.to_string().contains("SoftmaxWithLoss"), "{err}");
}
