//! The sparse fast path gives the same results as the book's dense path.

mod common;

use bp_core::{Float, Targets};
use bp_layers::sparse::{
    sparse_accuracy, sparse_backprop, sparse_predict, SparseBatch, SparseRows,
};
use bp_layers::{Activation, MultiLayerNet};
use common::{max_rel_err, rng};
use ndarray::{Array1, Array2};
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

#[test]
fn sparse_rows_keep_exactly_the_non_zeros() {
    let x = sparse_u8(1, 20, 30, 0.8);
    let s = SparseRows::from_u8(x.view(), 1.0 / 255.0).unwrap();
    assert_eq!(s.nrows(), 20);
    assert_eq!(s.width(), 30);
    assert_eq!(s.nnz(), x.iter().filter(|&&v| v != 0).count());
    assert!((s.density() - s.nnz() as f64 / 600.0).abs() < 1e-15);
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
fn sparse_products_match_dense_products() {
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
        let all: Vec<usize> = (0..rows).collect();

        let batch = SparseBatch::from_rows(&s, &all).unwrap();
        assert_eq!(batch.nnz(), s.nnz());
        let mut out = Array2::zeros((rows, n));
        batch.affine_forward(w.view(), b.view(), &mut out).unwrap();
        let expected = xd.dot(&w) + &b;
        assert!(max_rel_err(&out, &expected) < 1e-12, "forward {zeros}");

        let (mut dw, mut db) = (Array2::from_elem((width, n), 7.0), Array1::zeros(n));
        batch
            .affine_backward(dout.view(), &mut dw, &mut db)
            .unwrap();
        assert!(max_rel_err(&dw, &xd.t().dot(&dout)) < 1e-12, "dW {zeros}");
        assert!(max_rel_err(&db, &dout.sum_axis(ndarray::Axis(0))) < 1e-12);

        // A subset of rows, in any order, with repeats (batches drawn with replacement).
        let pick = [rows - 1, 0, rows - 1];
        let mut out = Array2::zeros((3, n));
        let mut batch = SparseBatch::new();
        batch.gather(&s, &pick).unwrap();
        batch.affine_forward(w.view(), b.view(), &mut out).unwrap();
        let expected = ndarray::stack![
            ndarray::Axis(0),
            xd.row(rows - 1),
            xd.row(0),
            xd.row(rows - 1)
        ]
        .dot(&w)
            + &b;
        assert!(max_rel_err(&out, &expected) < 1e-12);
    }
}

fn check_backprop_agrees<F: Float>(tol: f64, activation: Activation, hidden: &[usize]) {
    let x = sparse_u8(4, 64, 784, 0.8);
    let s = SparseRows::from_u8(x.view(), 1.0 / 255.0).unwrap();
    let xd = dense::<F>(&x);
    let mut plain =
        MultiLayerNet::<F>::new(784, hidden, 10, activation, F::of(0.05), &mut rng(5)).unwrap();
    let mut fast = plain.clone();
    let rows: Vec<usize> = (0..64).rev().step_by(2).collect();
    let labels: Vec<usize> = rows.iter().map(|r| r % 10).collect();
    let batch = xd.select(ndarray::Axis(0), &rows);

    let l1 = plain
        .backprop(batch.view(), Targets::Labels(&labels))
        .unwrap();
    let batch = SparseBatch::from_rows(&s, &rows).unwrap();
    let l2 = sparse_backprop(&mut fast, &batch, Targets::Labels(&labels)).unwrap();
    assert!((l1 - l2).abs().to_f64_exact() < tol, "loss {l1} vs {l2}");
    for (p, q) in plain.params().iter().zip(fast.params().iter()) {
        assert_eq!(p.name, q.name);
        let (a, b) = (
            p.grad.mapv(Float::to_f64_exact),
            q.grad.mapv(Float::to_f64_exact),
        );
        assert!(
            max_rel_err(&a, &b) < tol,
            "{}: {:e}",
            p.name,
            max_rel_err(&a, &b)
        );
    }

    let all = Array2::from_shape_fn((64, 784), |(i, j)| xd[[i, j]]);
    let p1 = plain.predict(all.view()).unwrap();
    let p2 = sparse_predict(&fast, &s, 0..64).unwrap();
    assert!(max_rel_err(&to_f64(&p1), &to_f64(&p2)) < tol);
    let all_labels: Vec<u8> = (0..64u8).map(|i| i % 10).collect();
    let t: Vec<usize> = all_labels.iter().map(|&l| usize::from(l)).collect();
    let a1 = plain.accuracy(all.view(), Targets::Labels(&t)).unwrap();
    for threads in [1, 2, 5] {
        assert_eq!(
            sparse_accuracy(&fast, &s, &all_labels, threads).unwrap(),
            a1
        );
    }
}

#[test]
fn sparse_backprop_matches_the_dense_net_in_f64() {
    check_backprop_agrees::<f64>(1e-12, Activation::Relu, &[50]);
    check_backprop_agrees::<f64>(1e-12, Activation::Sigmoid, &[20, 12]);
}

#[test]
fn sparse_backprop_matches_the_dense_net_in_f32() {
    check_backprop_agrees::<f32>(1e-5, Activation::Relu, &[50]);
}

#[test]
fn sparse_accuracy_over_several_chunks_matches_the_dense_net() {
    // Two full chunks and a partial one.
    let n = 2 * bp_layers::sparse::EVAL_CHUNK + 44;
    let x = sparse_u8(8, n, 40, 0.7);
    let s = SparseRows::from_u8(x.view(), 1.0 / 255.0).unwrap();
    let net = MultiLayerNet::<f64>::new(40, &[8], 4, Activation::Relu, 0.5, &mut rng(1)).unwrap();
    let labels: Vec<usize> = (0..n).map(|i| (i * 7) % 4).collect();
    let expected = net
        .accuracy(dense::<f64>(&x).view(), Targets::Labels(&labels))
        .unwrap();
    for threads in [1, 2, 3] {
        assert_eq!(
            sparse_accuracy(&net, &s, &labels, threads).unwrap(),
            expected
        );
    }
    let p = sparse_predict(&net, &s, 128..n).unwrap();
    let d = net
        .predict(dense::<f64>(&x).slice(ndarray::s![128..n, ..]))
        .unwrap();
    assert!(max_rel_err(&p, &d) < 1e-12);
    assert!(sparse_predict(&net, &s, 250..n + 1).is_err());
}

#[test]
fn bad_input_is_an_error() {
    let x = sparse_u8(6, 5, 8, 0.5);
    let s = SparseRows::from_u8(x.view(), 1.0).unwrap();
    let w = Array2::<f32>::zeros((8, 3));
    let b = Array1::<f32>::zeros(3);
    let err = SparseBatch::from_rows(&s, &[0, 5]).unwrap_err();
    assert!(
        err.to_string().contains("row 5 out of range for 5 rows"),
        "{err}"
    );
    let batch = SparseBatch::from_rows(&s, &[0, 1]).unwrap();
    let mut out = Array2::zeros((2, 3));
    let err = batch
        .affine_forward(Array2::<f32>::zeros((7, 3)).view(), b.view(), &mut out)
        .unwrap_err();
    assert!(
        err.to_string().contains("expected [8, 3], got [7, 3]"),
        "{err}"
    );
    let mut out = Array2::zeros((1, 3));
    let err = batch
        .affine_forward(w.view(), b.view(), &mut out)
        .unwrap_err();
    assert!(
        err.to_string().contains("expected [2, 3], got [1, 3]"),
        "{err}"
    );
    let net = MultiLayerNet::<f32>::new(8, &[4], 3, Activation::Relu, 0.1, &mut rng(0)).unwrap();
    let err = sparse_accuracy(&net, &s, &[0u8; 4], 2).unwrap_err();
    assert!(err.to_string().contains("sparse_accuracy"), "{err}");
}

#[test]
fn count_nonzero_counts_long_runs() {
    use bp_layers::sparse::count_nonzero;
    assert_eq!(count_nonzero(&[]), 0);
    assert_eq!(count_nonzero(&[0, 1, 0, 255]), 2);
    let ones = vec![7u8; 1000];
    assert_eq!(count_nonzero(&ones), 1000);
    let x = sparse_u8(9, 30, 41, 0.6);
    let expected = x.iter().filter(|&&v| v != 0).count();
    assert_eq!(count_nonzero(x.as_slice().unwrap()), expected);
}

#[test]
fn row_and_column_pieces_add_up_to_the_whole_products() {
    use ndarray::{s, Axis};
    for (zeros, rows, width, n) in [(0.8, 100, 784, 50), (0.5, 7, 33, 5), (1.0, 4, 9, 3)] {
        let x = sparse_u8(6, rows, width, zeros);
        let s = SparseRows::from_u8(x.view(), 1.0 / 255.0).unwrap();
        let mut r = rng(7);
        let w = common::uniform(&mut r, width, n, -1.0, 1.0);
        let b = Array1::from_iter(common::uniform(&mut r, 1, n, -1.0, 1.0));
        let dout = common::uniform(&mut r, rows, n, -1.0, 1.0);
        let all: Vec<usize> = (0..rows).collect();
        let batch = SparseBatch::from_rows(&s, &all).unwrap();
        let mut whole = Array2::zeros((rows, n));
        batch
            .affine_forward(w.view(), b.view(), &mut whole)
            .unwrap();
        let (mut dw, mut db) = (Array2::zeros((width, n)), Array1::zeros(n));
        batch
            .affine_backward(dout.view(), &mut dw, &mut db)
            .unwrap();

        // Two pieces of rows give exactly the whole forward pass.
        let mid = rows / 2;
        let mut pieces = Array2::from_elem((rows, n), 9.0);
        let (top, bottom) = pieces.view_mut().split_at(Axis(0), mid);
        batch
            .affine_forward_rows(0..mid, w.view(), b.view(), top)
            .unwrap();
        batch
            .affine_forward_rows(mid..rows, w.view(), b.view(), bottom)
            .unwrap();
        assert_eq!(pieces, whole);

        // The cut splits the non-zeros in half; two pieces of dW give the whole.
        let cut = batch.split_columns(1, 2);
        assert!(cut <= width);
        let before = x.slice(s![.., ..cut]).iter().filter(|&&v| v != 0).count();
        assert!(2 * before >= batch.nnz(), "{before} of {}", batch.nnz());
        let mut pieces = Array2::from_elem((width, n), 9.0);
        let (left, right) = pieces.view_mut().split_at(Axis(0), cut);
        batch
            .affine_backward_cols(dout.view(), 0..cut, left)
            .unwrap();
        batch
            .affine_backward_cols(dout.view(), cut..width, right)
            .unwrap();
        assert_eq!(pieces, dw);

        // Out-of-range pieces are errors.
        let out = Array2::zeros((1, n));
        assert!(batch
            .affine_forward_rows(rows..rows + 1, w.view(), b.view(), out.clone().view_mut())
            .is_err());
        assert!(batch
            .affine_backward_cols(
                dout.view(),
                0..width + 1,
                Array2::zeros((width + 1, n)).view_mut()
            )
            .is_err());
        assert!(batch
            .affine_backward_cols(dout.view(), 0..1, Array2::zeros((2, n)).view_mut())
            .is_err());
    }
}

#[test]
fn a_batch_gathered_in_two_halves_is_the_same_batch() {
    let x = sparse_u8(8, 40, 50, 0.7);
    let s = SparseRows::from_u8(x.view(), 1.0 / 255.0).unwrap();
    let pick = [3, 39, 0, 3, 17];
    let whole = SparseBatch::from_rows(&s, &pick).unwrap();
    let mut r = rng(9);
    let dout = common::uniform(&mut r, pick.len(), 6, -1.0, 1.0);
    let mut halves = SparseBatch::new();
    halves.gather_rows(&s, &pick).unwrap();
    assert_eq!(halves.nnz(), whole.nnz());
    // Without the column index the backward pass refuses to run.
    let err = halves
        .affine_backward_cols(dout.view(), 0..50, Array2::zeros((50, 6)).view_mut())
        .unwrap_err();
    assert!(err.to_string().contains("index_columns"), "{err}");
    halves.index_columns();
    let (mut a, mut b) = (Array2::zeros((50, 6)), Array2::zeros((50, 6)));
    let mut db = Array1::zeros(6);
    whole.affine_backward(dout.view(), &mut a, &mut db).unwrap();
    halves
        .affine_backward(dout.view(), &mut b, &mut db)
        .unwrap();
    assert_eq!(a, b);
    assert!(halves.gather_rows(&s, &[40]).is_err());
}

#[test]
fn correct_counts_of_pieces_add_up_to_the_accuracy() {
    use bp_layers::sparse::sparse_correct;
    let x = sparse_u8(10, 2100, 20, 0.6);
    let s = SparseRows::from_u8(x.view(), 1.0 / 255.0).unwrap();
    let labels: Vec<u8> = (0..2100).map(|i| (i % 3) as u8).collect();
    let net = MultiLayerNet::<f64>::new(20, &[8], 3, Activation::Relu, 0.5, &mut rng(11)).unwrap();
    let acc = sparse_accuracy(&net, &s, &labels, 1).unwrap();
    let a = sparse_correct(&net, &s, &labels, 0..1500).unwrap();
    let b = sparse_correct(&net, &s, &labels, 1500..2100).unwrap();
    assert_eq!((a + b) as f64 / 2100.0, acc);
    assert!(acc > 0.0 && acc < 1.0);
    assert!(sparse_correct(&net, &s, &labels, 2000..2101).is_err());
    assert!(sparse_correct(&net, &s, &labels[..10], 0..11).is_err());
}
