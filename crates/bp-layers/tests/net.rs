//! Networks: the seed's gradient check, the initial loss, learning, bad input.

mod common;

use bp_core::{Float, Targets};
use bp_layers::{
    gradient_check, Activation, Affine, Layer, MultiLayerNet, Sigmoid, SoftmaxWithLoss, TwoLayerNet,
};
use common::{rng, uniform};
use ndarray::{Array2, Zip};
use rand::Rng;

#[test]
fn two_layer_net_gradient_check_as_in_the_seed() {
    // TwoLayerNet(784, 50, 10) on a batch of 3 image-like inputs in [0, 1).
    let mut r = rng(42);
    let mut net = TwoLayerNet::<f64>::new(784, 50, 10, 0.01, &mut r).unwrap();
    let x = uniform(&mut r, 3, 784, 0.0, 1.0);
    let t = [5, 0, 4];
    let checks = gradient_check(&mut net, x.view(), Targets::Labels(&t)).unwrap();
    let names: Vec<_> = checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["W1", "b1", "W2", "b2"]);
    for c in &checks {
        assert!(c.mean_abs_diff < 1e-8, "{}: {:e}", c.name, c.mean_abs_diff);
        assert!(c.max_rel_err < 1e-5, "{}: {:e}", c.name, c.max_rel_err);
    }
}

#[test]
fn deeper_nets_pass_the_gradient_check_with_both_activations() {
    for activation in [Activation::Relu, Activation::Sigmoid] {
        let mut r = rng(5);
        let mut net = MultiLayerNet::<f64>::new(6, &[5, 4], 3, activation, 0.5, &mut r).unwrap();
        let x = uniform(&mut r, 4, 6, -1.0, 1.0);
        let t = bp_core::one_hot::<f64>(&[0, 2, 1, 2], 3).unwrap();
        let checks = gradient_check(&mut net, x.view(), Targets::OneHot(t.view())).unwrap();
        assert_eq!(checks.len(), 6);
        for c in checks {
            assert!(
                c.max_rel_err < 1e-6,
                "{activation} {}: {:e}",
                c.name,
                c.max_rel_err
            );
        }
    }
}

#[test]
fn fresh_net_loss_is_close_to_ln_10() {
    let mut r = rng(0);
    let mut net = TwoLayerNet::<f32>::new(784, 50, 10, 0.01, &mut r).unwrap();
    let x = uniform(&mut r, 100, 784, 0.0, 1.0).mapv(|v| v as f32);
    let t: Vec<usize> = (0..100).map(|i| i % 10).collect();
    let loss = net.loss(x.view(), Targets::Labels(&t)).unwrap();
    assert!((loss - 10f32.ln()).abs() < 0.01, "{loss}");
}

/// Three Gaussian blobs in 4 dimensions, 100 points each.
fn blobs<F: Float>(seed: u64) -> (Array2<F>, Vec<usize>) {
    let mut r = rng(seed);
    let centers = [
        [2.0, 0.0, -1.0, 0.5],
        [-2.0, 1.5, 0.0, -0.5],
        [0.0, -2.0, 1.5, 1.0],
    ];
    let labels: Vec<usize> = (0..300).map(|i| i % 3).collect();
    let x = Array2::from_shape_fn((300, 4), |(i, j)| {
        let noise: f64 = r.random_range(-0.8..0.8) + r.random_range(-0.8..0.8);
        F::of(centers[labels[i]][j] + noise)
    });
    (x, labels)
}

fn train_blobs<F: Float>(activation: Activation) -> f64 {
    let (x, t) = blobs::<F>(11);
    let mut net =
        MultiLayerNet::<F>::new(4, &[16, 8], 3, activation, F::of(0.5), &mut rng(3)).unwrap();
    let lr = F::of(0.5);
    for _ in 0..300 {
        for mut p in net.gradient(x.view(), Targets::Labels(&t)).unwrap().params {
            Zip::from(&mut p.value)
                .and(&p.grad)
                .for_each(|w, &g| *w -= lr * g);
        }
    }
    let (x_test, t_test) = blobs::<F>(12);
    net.accuracy(x_test.view(), Targets::Labels(&t_test))
        .unwrap()
}

#[test]
fn a_small_net_learns_three_blobs_with_relu_and_sigmoid_in_f32_and_f64() {
    for activation in [Activation::Relu, Activation::Sigmoid] {
        let a32 = train_blobs::<f32>(activation);
        let a64 = train_blobs::<f64>(activation);
        assert!(a32 > 0.95, "{activation} f32: {a32}");
        assert!(a64 > 0.95, "{activation} f64: {a64}");
    }
}

#[test]
fn bad_input_is_an_error_naming_what_and_where() {
    let mut net = TwoLayerNet::<f64>::new(784, 50, 10, 0.01, &mut rng(0)).unwrap();
    let err = net.predict(Array2::zeros((2, 783)).view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Affine(W1): shape mismatch: expected [_, 784], got [2, 783]"
    );
    let err = net
        .loss(Array2::zeros((0, 784)).view(), Targets::Labels(&[]))
        .unwrap_err();
    assert_eq!(err.to_string(), "Affine(W1): empty batch");
    let err = net
        .loss(Array2::zeros((2, 784)).view(), Targets::Labels(&[1, 10]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "SoftmaxWithLoss: label 10 at row 1 is out of range for 10 classes"
    );
    let err = net
        .accuracy(Array2::zeros((2, 784)).view(), Targets::Labels(&[1]))
        .unwrap_err();
    assert!(
        err.to_string().starts_with("accuracy: shape mismatch"),
        "{err}"
    );

    let err = MultiLayerNet::<f32>::new(784, &[50, 0], 10, Activation::Relu, 0.01, &mut rng(0))
        .unwrap_err();
    assert!(
        err.to_string().contains("layer sizes must be positive"),
        "{err}"
    );
    assert!("tanh".parse::<Activation>().is_err());
}

#[test]
fn gradient_returns_named_copies_and_predict_caches_nothing() {
    let mut r = rng(9);
    let mut net = MultiLayerNet::<f64>::new(3, &[4], 2, Activation::Relu, 0.3, &mut r).unwrap();
    assert_eq!(net.sizes(), vec![3, 4, 2]);
    let x = uniform(&mut r, 5, 3, -1.0, 1.0);
    let t = [0, 1, 1, 0, 1];
    let grads = net.gradient(x.view(), Targets::Labels(&t)).unwrap();
    assert_eq!(grads.get("W1").unwrap().shape(), &[3, 4]);
    assert_eq!(grads.get("b2").unwrap().shape(), &[2]);
    assert!(grads.get("W3").is_none());
    let before = net.predict(x.view()).unwrap();
    assert_eq!(net.predict(x.view()).unwrap(), before);
}

#[test]
fn gradient_is_the_books_layers_forward_then_backward_in_reverse() {
    let mut r = rng(11);
    let mut net =
        MultiLayerNet::<f64>::new(6, &[5, 4], 3, Activation::Sigmoid, 0.5, &mut r).unwrap();
    let x = uniform(&mut r, 7, 6, -1.0, 1.0);
    let t = [0, 1, 2, 2, 1, 0, 1];
    let t = Targets::Labels(&t);

    // The same layers, built by hand from the net's weights and run one by one.
    let mut affines: Vec<Affine<f64>> = net
        .affines()
        .into_iter()
        .enumerate()
        .map(|(k, a)| Affine::new(a.w.clone(), a.b.clone(), k + 1).unwrap())
        .collect();
    let mut sigmoids = [Sigmoid::new(), Sigmoid::new()];
    let mut last = SoftmaxWithLoss::new();
    let mut h = x.clone();
    for k in 0..3 {
        h = Layer::forward(&mut affines[k], h.view()).unwrap();
        if k < 2 {
            h = sigmoids[k].forward(h.view()).unwrap();
        }
    }
    let loss = last.forward(h.view(), t).unwrap();
    let mut d = last.backward(1.0).unwrap();
    for k in (0..3).rev() {
        d = Layer::backward(&mut affines[k], d.view()).unwrap();
        if k > 0 {
            d = sigmoids[k - 1].backward(d.view()).unwrap();
        }
    }

    let grads = net.gradient(x.view(), t).unwrap();
    assert_eq!(grads.loss, loss);
    let by_hand = affines
        .iter()
        .flat_map(|a| [a.dw.view().into_dyn(), a.db.view().into_dyn()]);
    for (p, want) in grads.params.iter().zip(by_hand) {
        assert_eq!(p.grad, want, "{}", p.name);
    }
    assert_eq!(grads.params.len(), 6);
}
