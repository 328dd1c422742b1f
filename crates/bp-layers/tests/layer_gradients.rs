//! Every layer's backward against central differences, in f64, on several shapes.

mod common;

use bp_core::{numerical_gradient, numerical_gradient_of, one_hot, CoreError, Targets};
use bp_layers::{Affine, Layer, LayerError, Relu, Sigmoid, SoftmaxWithLoss};
use common::{assert_grad_close, rng, uniform};
use ndarray::{Array1, Array2};

const SHAPES: [(usize, usize); 4] = [(1, 1), (1, 3), (4, 5), (7, 2)];

/// `f(x) = sum(layer(x) * g)`, whose gradient is `layer.backward(g)`.
fn check_activation(layer: &mut dyn Layer<f64>, x: &Array2<f64>, g: &Array2<f64>) {
    let mut xn = x.clone();
    let numerical = numerical_gradient(&mut xn, |x| {
        Ok::<_, LayerError>((layer.forward(x.view())? * g).sum())
    })
    .unwrap();
    layer.forward(x.view()).unwrap();
    let backprop = layer.backward(g.view()).unwrap();
    assert_grad_close(layer.name(), &backprop, &numerical);
}

#[test]
fn relu_backward_matches_numerical_gradient() {
    let mut r = rng(1);
    for (rows, cols) in SHAPES {
        // Keep inputs at least 0.1 away from the kink at 0, where the derivative jumps.
        let x =
            uniform(&mut r, rows, cols, -1.0, 1.0)
                .mapv(|v| if v.abs() < 0.1 { v + 0.2 } else { v });
        let g = uniform(&mut r, rows, cols, -1.0, 1.0);
        check_activation(&mut Relu::new(), &x, &g);
    }
}

#[test]
fn relu_masks_nonpositive_inputs_and_leaves_dout_alone() {
    let mut relu = Relu::new();
    let x = ndarray::array![[1.0_f64, -0.5], [0.0, 2.0]];
    assert_eq!(
        relu.forward(x.view()).unwrap(),
        ndarray::array![[1.0, 0.0], [0.0, 2.0]]
    );
    let dout = ndarray::array![[3.0, 4.0], [5.0, 6.0]];
    let dx = relu.backward(dout.view()).unwrap();
    assert_eq!(dx, ndarray::array![[3.0, 0.0], [0.0, 6.0]]);
    assert_eq!(dout, ndarray::array![[3.0, 4.0], [5.0, 6.0]]);
}

#[test]
fn sigmoid_backward_matches_numerical_gradient() {
    let mut r = rng(2);
    for (rows, cols) in SHAPES {
        let x = uniform(&mut r, rows, cols, -4.0, 4.0);
        let g = uniform(&mut r, rows, cols, -1.0, 1.0);
        check_activation(&mut Sigmoid::new(), &x, &g);
    }
}

#[test]
fn affine_backward_matches_numerical_gradient_for_x_w_and_b() {
    let mut r = rng(3);
    for (batch, (input, output)) in [(1, (1, 1)), (3, (4, 2)), (5, (6, 7)), (2, (10, 3))] {
        let w = uniform(&mut r, input, output, -1.0, 1.0);
        let b = Array1::from_iter(uniform(&mut r, 1, output, -1.0, 1.0));
        let x = uniform(&mut r, batch, input, -1.0, 1.0);
        let g = uniform(&mut r, batch, output, -1.0, 1.0);
        let mut layer = Affine::new(w, b, 1).unwrap();

        let objective = |l: &mut Affine<f64>, x: &Array2<f64>| -> Result<f64, LayerError> {
            Ok((l.forward(x.view())? * &g).sum())
        };
        let mut xn = x.clone();
        let num_dx = numerical_gradient(&mut xn, |x| objective(&mut layer.clone(), x)).unwrap();
        let num_dw = numerical_gradient_of(&mut layer, |l| &mut l.w, |l| objective(l, &x)).unwrap();
        let num_db = numerical_gradient_of(&mut layer, |l| &mut l.b, |l| objective(l, &x)).unwrap();

        layer.forward(x.view()).unwrap();
        let dx = layer.backward(g.view()).unwrap();
        assert_grad_close("Affine dx", &dx, &num_dx);
        assert_grad_close("Affine dW", &layer.dw, &num_dw);
        assert_grad_close("Affine db", &layer.db, &num_db);
    }
}

#[test]
fn softmax_with_loss_backward_matches_numerical_gradient() {
    let mut r = rng(4);
    for (batch, classes) in [(1, 2), (3, 10), (6, 4)] {
        let x = uniform(&mut r, batch, classes, -3.0, 3.0);
        let labels: Vec<usize> = (0..batch).map(|i| (i * 7 + 3) % classes).collect();
        let t = one_hot::<f64>(&labels, classes).unwrap();
        for targets in [Targets::Labels(&labels), Targets::OneHot(t.view())] {
            let mut layer = SoftmaxWithLoss::new();
            let mut xn = x.clone();
            let numerical =
                numerical_gradient(&mut xn, |x| layer.forward(x.view(), targets)).unwrap();
            layer.forward(x.view(), targets).unwrap();
            let backprop = layer.backward(1.0).unwrap();
            assert_grad_close("SoftmaxWithLoss", &backprop, &numerical);
            // The book's closed form: (y - t) / batch.
            let expected = (&layer.probabilities() - &t) / batch as f64;
            assert_grad_close("SoftmaxWithLoss closed form", &backprop, &expected);
        }
    }
}

#[test]
fn softmax_with_loss_is_finite_for_huge_logits() {
    let mut layer = SoftmaxWithLoss::new();
    let x = ndarray::array![[-1000.0_f64, 0.0, 1000.0], [1000.0, 1001.0, 1002.0]];
    let loss = layer.forward(x.view(), Targets::Labels(&[0, 2])).unwrap();
    assert!(loss.is_finite());
    assert!(layer.backward(1.0).unwrap().iter().all(|v| v.is_finite()));
}

#[test]
fn backward_before_forward_is_an_error_for_every_layer() {
    let dout = Array2::<f64>::ones((2, 3));
    let msg = |e: LayerError| e.to_string();
    assert_eq!(
        msg(Relu::new().backward(dout.view()).unwrap_err()),
        "Relu: backward called before forward"
    );
    assert_eq!(
        msg(Layer::<f64>::backward(&mut Sigmoid::new(), dout.view()).unwrap_err()),
        "Sigmoid: backward called before forward"
    );
    let mut affine = Affine::new(Array2::<f64>::zeros((3, 3)), Array1::zeros(3), 2).unwrap();
    assert_eq!(
        msg(affine.backward(dout.view()).unwrap_err()),
        "Affine(W2): backward called before forward"
    );
    assert_eq!(
        msg(SoftmaxWithLoss::<f64>::new().backward(1.0).unwrap_err()),
        "SoftmaxWithLoss: backward called before forward"
    );
}

#[test]
fn shape_errors_name_the_layer_and_both_shapes() {
    let mut affine = Affine::new(Array2::<f64>::zeros((4, 2)), Array1::zeros(2), 1).unwrap();
    let err = affine.forward(Array2::zeros((3, 5)).view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Affine(W1): shape mismatch: expected [_, 4], got [3, 5]"
    );
    let err = affine.forward(Array2::zeros((0, 4)).view()).unwrap_err();
    assert_eq!(
        err,
        LayerError::Core(CoreError::EmptyBatch {
            op: "Affine(W1)".into()
        })
    );

    affine.forward(Array2::zeros((3, 4)).view()).unwrap();
    let err = affine.backward(Array2::zeros((3, 3)).view()).unwrap_err();
    assert!(
        err.to_string().contains("expected [3, 2], got [3, 3]"),
        "{err}"
    );

    let mut relu = Relu::new();
    Layer::<f64>::forward(&mut relu, Array2::zeros((2, 2)).view()).unwrap();
    let err = relu
        .backward(Array2::<f64>::zeros((2, 3)).view())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Relu backward: shape mismatch: expected [2, 2], got [2, 3]"
    );

    let mut last = SoftmaxWithLoss::<f64>::new();
    let err = last
        .forward(Array2::zeros((2, 3)).view(), Targets::Labels(&[0, 3]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "SoftmaxWithLoss: label 3 at row 1 is out of range for 3 classes"
    );
    let err = last
        .forward(Array2::zeros((2, 3)).view(), Targets::Labels(&[0]))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("SoftmaxWithLoss: shape mismatch"),
        "{err}"
    );
}
