//! One full evaluation pass: a `TwoLayerNet(784, 50, 10)` (f32) over 10000
//! MNIST-like images, through the dense path ([`bp_train::accuracy`], float chunks
//! converted from `u8`) and the sparse path (the same net with a
//! [`SparseAffine`] first layer, predicting on a [`SparseRows`] built once, pixels
//! read as `byte / 255`), both on one thread: the per-image cost of each path.
//!
//! `cargo bench -p bp-train --bench eval`. The images are synthetic with MNIST's
//! density (about 19% non-zero pixels, 150 of 784); the cost does not depend on
//! the pixel values, only on their count and the shapes.

use std::hint::black_box;

use bp_layers::sparse::{SparseAffine, SparseRows};
use bp_layers::{MultiLayerNet, TwoLayerNet};
use bp_train::{accuracy, SplitView};
use criterion::{criterion_main, Criterion};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const IMAGES: usize = 10_000;
const CLASSES: usize = 10;
const CHUNK: usize = 1000;

/// The sparse net's accuracy, `CHUNK` rows at a time.
fn sparse_accuracy(
    net: &mut MultiLayerNet<f32, SparseAffine<f32>>,
    x: &SparseRows,
    labels: &[u8],
) -> f64 {
    let mut correct = 0;
    for start in (0..x.nrows()).step_by(CHUNK) {
        let end = (start + CHUNK).min(x.nrows());
        let scores = net
            .predict(x.view(start..end).expect("rows"))
            .expect("predict");
        for (row, &t) in scores.rows().into_iter().zip(&labels[start..end]) {
            let best = bp_core::argmax(row.view());
            correct += usize::from(best == usize::from(t));
        }
    }
    correct as f64 / x.nrows() as f64
}

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
    let mut sparse_net = (*net).clone().with_input_layer::<SparseAffine<f32>>();
    let threads = 1;
    let split = SplitView::new(x.view(), &labels).expect("split");
    let sparse = SparseRows::from_u8(x.view(), 1.0 / 255.0).expect("sparse rows");

    // Both paths see the same images: the same accuracy up to float rounding.
    let dense_acc = accuracy(&net, &split, CLASSES, threads).expect("dense");
    let sparse_acc = sparse_accuracy(&mut sparse_net, &sparse, &labels);
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
        b.iter(|| sparse_accuracy(&mut sparse_net, black_box(&sparse), &labels))
    });
    group.finish();
}

mod group {
    #![allow(missing_docs)] // criterion's macro defines an undocumented `pub fn`
    criterion::criterion_group!(benches, super::eval);
}
use group::benches;
criterion_main!(benches);
