//! The sparse first layer gives the same results as the book's dense `Affine`.

mod common;

use bp_core::{Float, Targets};
use bp_layers::sparse::{density, SparseAffine, SparseBatch, SparseRows};
use bp_layers::{gradient_check, Activation, Affine, InputLayer, MultiLayerNet};
use common::{max_rel_err, rng};
use ndarray::{Array1, Array2, Axis};
use rand::Rng;

/// A `(rows, cols)` u8 matrix with about `zeros` of its entries zero.
fn sparse_u8(seed: u64, rows: usize, cols: usize, zeros: f64) -> Array2<u8> {
    let mut r = rng(seed);
    Array2::from_shape_simple_fn((rows, cols), || {
        if r.random_bool(zeros) {
            0
        } else {
            r.random_range(1..=255)
        }
    })
}

fn dense<F: Float>(x: &Array2<u8>) -> Array2<F> {
    x.mapv(|v| F::of(f64::from(v) * (1.0 / 255.0)))
}

fn to_f64<F: Float>(a: &Array2<F>) -> Array2<f64> {
    a.mapv(Float::to_f64_exact)
}

type SparseNet<F> = MultiLayerNet<F, SparseAffine<F>>;

#[test]
fn sparse_rows_keep_exactly_the_non_zeros() {
    let x = sparse_u8(1, 20, 30, 0.8);
    let s = SparseRows::from_u8(x.view(), 1.0 / 255.0).unwrap();
    assert_eq!(s.nrows(), 20);
    assert_eq!(s.width(), 30);
    assert_eq!(s.nnz(), x.iter().filter(|&&v| v != 0).count());
    assert!((s.density() - s.nnz() as f64 / 600.0).abs() < 1e-15);
    assert_eq!(density(x.view()), s.density());
    assert_eq!(density(x.t()), s.density());
    assert_eq!(density(Array2::<u8>::zeros((0, 3)).view()), 0.0);
    for i in 0..20 {
        assert_eq!(s.dense_row::<f64>(i).unwrap(), dense::<f64>(&x).row(i));
    }
    assert!(s.dense_row::<f64>(20).is_err());
}

#[test]
fn rows_built_on_several_threads_are_the_same_rows() {
    for (rows, cols, zeros) in [
        (1000, 30, 0.8),
        (7, 9, 0.5),
        (3, 784, 1.0),
        (5, 1, 0.0),
        (0, 4, 0.5),
    ] {
        let mut x = sparse_u8(4, rows, cols, zeros);
        if rows > 0 {
            // A non-zero in the very last entry, and an all-zero row.
            x[[rows - 1, cols - 1]] = 9;
            x.row_mut(0).fill(0);
        }
        let one = SparseRows::from_u8(x.view(), 1.0 / 255.0).unwrap();
        assert_eq!(one.nnz(), x.iter().filter(|&&v| v != 0).count());
        for threads in [0, 1, 2, 3, 8, 2000] {
            let many = SparseRows::from_u8_threads(x.view(), 1.0 / 255.0, threads).unwrap();
            assert_eq!(many, one, "{rows} x {cols}, {threads} threads");
        }
    }
    let empty = Array2::<u8>::zeros((3, 0));
    let s = SparseRows::from_u8_threads(empty.view(), 1.0, 2).unwrap();
    assert_eq!((s.nrows(), s.width(), s.nnz()), (3, 0, 0));
}

#[test]
fn the_sparse_layer_matches_the_dense_products() {
    for (zeros, rows, width, n) in [
        (0.8, 100, 784, 50),
        (0.5, 7, 33, 5),
        (0.0, 3, 4, 17),
        (0.7, 9, 60, 16),
        (0.8, 5, 30, 100),
        (1.0, 4, 9, 3),
    ] {
        let x = sparse_u8(2, rows, width, zeros);
        let s = SparseRows::from_u8(x.view(), 1.0 / 255.0).unwrap();
        let xd = dense::<f64>(&x);
        let mut r = rng(3);
        let w = common::uniform(&mut r, width, n, -1.0, 1.0);
        let b = Array1::from_iter(common::uniform(&mut r, 1, n, -1.0, 1.0));
        let dout = common::uniform(&mut r, rows, n, -1.0, 1.0);
        let mut layer = SparseAffine::from(Affine::new(w.clone(), b.clone(), 1).unwrap());
        let all: Vec<usize> = (0..rows).collect();

        let batch = SparseBatch::from_rows(&s, &all).unwrap();
        assert_eq!((batch.nrows(), batch.nnz()), (rows, s.nnz()));
        let out = layer.forward(batch.view()).unwrap();
        let expected = xd.dot(&w) + &b;
        assert!(max_rel_err(&out, &expected) < 1e-12, "forward {zeros}");
        let rows_out = layer.forward(s.view(0..rows).unwrap()).unwrap();
        assert_eq!(rows_out, out);

        layer.backward(batch.view(), dout.view()).unwrap();
        let a = layer.affine();
        assert!(max_rel_err(&a.dw, &xd.t().dot(&dout)) < 1e-12, "dW {zeros}");
        assert!(max_rel_err(&a.db, &dout.sum_axis(Axis(0))) < 1e-12);

        // A subset of rows, in any order, with repeats (batches drawn with replacement).
        let pick = [rows - 1, 0, rows - 1];
        let mut batch = SparseBatch::new();
        batch.gather(&s, &pick).unwrap();
        let out = layer.forward(batch.view()).unwrap();
        let picked = xd.select(Axis(0), &pick);
        assert!(max_rel_err(&out, &(picked.dot(&w) + &b)) < 1e-12);
        let dout = dout.select(Axis(0), &[0, 1, 2].map(|i| i % rows));
        layer.backward(batch.view(), dout.view()).unwrap();
        assert!(max_rel_err(&layer.affine().dw, &picked.t().dot(&dout)) < 1e-12);
    }
}

/// The same batch through a dense and a sparse net with the same weights.
fn check_nets_agree<F: Float>(tol: f64, activation: Activation, hidden: &[usize]) {
    let x = sparse_u8(4, 64, 784, 0.8);
    let s = SparseRows::from_u8(x.view(), 1.0 / 255.0).unwrap();
    let xd = dense::<F>(&x);
    let mut plain =
        MultiLayerNet::<F>::new(784, hidden, 10, activation, F::of(0.05), &mut rng(5)).unwrap();
    let mut fast: SparseNet<F> = plain.clone().with_input_layer();
    let rows: Vec<usize> = (0..64).rev().step_by(2).collect();
    let labels: Vec<usize> = rows.iter().map(|r| r % 10).collect();
    let t = Targets::Labels(&labels);
    let dense_batch = xd.select(Axis(0), &rows);
    let sparse_batch = SparseBatch::from_rows(&s, &rows).unwrap();

    let a = plain
        .gradient(dense_batch.view(), t)
        .unwrap()
        .to_gradients();
    let b = fast.gradient(sparse_batch.view(), t).unwrap();
    let (l1, l2) = (plain.loss(dense_batch.view(), t).unwrap(), b.loss);
    assert!((l1 - l2).abs().to_f64_exact() < tol, "loss {l1} vs {l2}");
    let b = b.to_gradients();
    for ((n1, g1), (n2, g2)) in a.iter().zip(b.iter()) {
        assert_eq!(n1, n2);
        let (g1, g2) = (g1.mapv(Float::to_f64_exact), g2.mapv(Float::to_f64_exact));
        assert!(
            max_rel_err(&g1, &g2) < tol,
            "{n1}: {:e}",
            max_rel_err(&g1, &g2)
        );
    }

    let p1 = plain.predict(xd.view()).unwrap();
    let p2 = fast.predict(s.view(0..64).unwrap()).unwrap();
    assert!(max_rel_err(&to_f64(&p1), &to_f64(&p2)) < tol);
    let all: Vec<usize> = (0..64).map(|i| i % 10).collect();
    let all = Targets::Labels(&all);
    assert_eq!(
        plain.accuracy(xd.view(), all).unwrap(),
        fast.accuracy(s.view(0..64).unwrap(), all).unwrap()
    );

    // Back to a dense net: the same weights.
    let back: MultiLayerNet<F> = fast.with_input_layer();
    for (p, q) in plain.params().iter().zip(back.params().iter()) {
        assert_eq!((p.name, &p.value), (q.name, &q.value));
    }
}

#[test]
fn the_sparse_net_matches_the_dense_net_in_f64() {
    check_nets_agree::<f64>(1e-12, Activation::Relu, &[50]);
    check_nets_agree::<f64>(1e-12, Activation::Sigmoid, &[20, 12]);
}

#[test]
fn the_sparse_net_matches_the_dense_net_in_f32() {
    check_nets_agree::<f32>(1e-5, Activation::Relu, &[50]);
}

#[test]
fn the_sparse_net_passes_the_gradient_check_in_f64() {
    let x = sparse_u8(12, 8, 30, 0.7);
    let s = SparseRows::from_u8(x.view(), 1.0 / 255.0).unwrap();
    let net = MultiLayerNet::<f64>::new(30, &[6], 4, Activation::Relu, 0.5, &mut rng(13)).unwrap();
    let mut net: SparseNet<f64> = net.with_input_layer();
    let batch = SparseBatch::from_rows(&s, &[7, 1, 1, 4, 0]).unwrap();
    let t = [3, 0, 1, 2, 0];
    for check in gradient_check(&mut net, batch.view(), Targets::Labels(&t)).unwrap() {
        assert!(
            check.max_rel_err < 1e-6,
            "{}: {:e}",
            check.name,
            check.max_rel_err
        );
    }
}

#[test]
fn bad_input_is_an_error() {
    let x = sparse_u8(6, 5, 8, 0.5);
    let s = SparseRows::from_u8(x.view(), 1.0).unwrap();
    let err = SparseBatch::from_rows(&s, &[0, 5]).unwrap_err();
    assert!(
        err.to_string().contains("row 5 out of range for 5 rows"),
        "{err}"
    );
    assert!(s.view(2..6).is_err());
    let batch = SparseBatch::from_rows(&s, &[0, 1]).unwrap();
    let mut narrow =
        SparseAffine::from(Affine::new(Array2::<f32>::zeros((7, 3)), Array1::zeros(3), 1).unwrap());
    let err = narrow.forward(batch.view()).unwrap_err();
    assert!(
        err.to_string().contains("expected [8, 3], got [7, 3]"),
        "{err}"
    );
    let mut layer =
        SparseAffine::from(Affine::new(Array2::<f32>::zeros((8, 3)), Array1::zeros(3), 1).unwrap());
    let err = layer
        .backward(batch.view(), Array2::zeros((1, 3)).view())
        .unwrap_err();
    assert!(
        err.to_string().contains("expected [2, 3], got [1, 3]"),
        "{err}"
    );
    // Rows of a SparseRows carry no column index: they can be predicted, not trained on.
    let rows = s.view(0..2).unwrap();
    layer.forward(rows).unwrap();
    let err = layer
        .backward(rows, Array2::zeros((2, 3)).view())
        .unwrap_err();
    assert!(err.to_string().contains("SparseBatch"), "{err}");
}
