//! One full evaluation pass: a `TwoLayerNet(784, 50, 10)` (f32) over 10000
//! MNIST-like images, through the dense path ([`bp_train::accuracy`], float chunks
//! converted from `u8`) and the sparse path ([`sparse_accuracy`] on a
//! [`SparseRows`] built once, pixels read as `byte / 255`), on the default number
//! of evaluation threads.
//!
//! `cargo bench -p bp-train --bench eval`. The images are synthetic with MNIST's
//! density (about 19% non-zero pixels, 150 of 784); the cost does not depend on
//! the pixel values, only on their count and the shapes.

use std::hint::black_box;

use bp_layers::sparse::{sparse_accuracy, SparseRows};
use bp_layers::TwoLayerNet;
use bp_train::{accuracy, default_eval_threads, SplitView};
use criterion::{criterion_main, Criterion};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const IMAGES: usize = 10_000;
const CLASSES: usize = 10;

/// `IMAGES` synthetic 784-pixel images, 19% non-zero, and labels.
fn images() -> (Array2<u8>, Vec<u8>) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = Array2::from_shape_simple_fn((IMAGES, 784), || {
        if rng.random_bool(0.19) {
            rng.random_range(1..=255u8)
        } else {
            0
        }
    });
    let labels = (0..IMAGES).map(|i| (i % CLASSES) as u8).collect();
    (x, labels)
}

fn eval(c: &mut Criterion) {
    let (x, labels) = images();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let net = TwoLayerNet::<f32>::new(784, 50, CLASSES, 0.01, &mut rng).expect("net");
    let threads = default_eval_threads();
    let split = SplitView::new(x.view(), &labels).expect("split");
    let sparse = SparseRows::from_u8(x.view(), 1.0 / 255.0).expect("sparse rows");

    // Both paths see the same images: the same accuracy up to float rounding.
    let dense_acc = accuracy(&net, &split, CLASSES, threads).expect("dense");
    let sparse_acc = sparse_accuracy(&net, &sparse, &labels, threads).expect("sparse");
    assert!(
        (dense_acc - sparse_acc).abs() <= 1e-3,
        "dense {dense_acc} vs sparse {sparse_acc}"
    );

    let mut group = c.benchmark_group("eval_10000_images");
    group.sample_size(20);
    group.bench_function("dense", |b| {
        b.iter(|| accuracy(&net, black_box(&split), CLASSES, threads).expect("dense"))
    });
    group.bench_function("sparse", |b| {
        b.iter(|| sparse_accuracy(&net, black_box(&sparse), &labels, threads).expect("sparse"))
    });
    group.finish();
}

mod group {
    #![allow(missing_docs)] // criterion's macro defines an undocumented `pub fn`
    criterion::criterion_group!(benches, super::eval);
}
use group::benches;
criterion_main!(benches);
