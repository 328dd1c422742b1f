//! Layer and training-step costs at the seed's shapes (batch 100, 784 -> 50 -> 10), f32.
//!
//! `cargo bench -p bp-layers`. Inputs are synthetic with MNIST's density (19% non-zero).

use std::hint::black_box;

use bp_core::Targets;
use bp_layers::sparse::{SparseAffine, SparseBatch, SparseRows};
use bp_layers::{Affine, InputLayer, Layer, MultiLayerNet, Relu, SoftmaxWithLoss, TwoLayerNet};
use criterion::{criterion_main, Criterion};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const BATCH: usize = 100;

fn inputs() -> (Array2<u8>, Array2<f32>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = Array2::from_shape_simple_fn((BATCH, 784), || {
        if rng.random_bool(0.19) {
            rng.random_range(1..=255u8)
        } else {
            0
        }
    });
    let xf = x.mapv(|v| f32::from(v) / 255.0);
    let labels = (0..BATCH).map(|i| i % 10).collect();
    (x, xf, labels)
}

fn layers(c: &mut Criterion) {
    let (x, xf, labels) = inputs();
    let sparse = SparseRows::from_u8(x.view(), 1.0 / 255.0).expect("sparse");
    let rows: Vec<usize> = (0..BATCH).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let w = bp_core::init_normal::<f32, _>(&mut rng, 784, 50, 0.01).expect("init");
    let mut affine = Affine::new(w.clone(), Array1::zeros(50), 1).expect("affine");
    let dout = Array2::<f32>::from_elem((BATCH, 50), 0.01);

    c.bench_function("affine_forward_dense", |b| {
        b.iter(|| Layer::forward(&mut affine, black_box(xf.view())).expect("forward"))
    });
    c.bench_function("affine_backward_dense", |b| {
        b.iter(|| Layer::backward(&mut affine, black_box(dout.view())).expect("backward"))
    });
    // Filled here too, so the benches below also run when filtered on their own.
    let mut batch = SparseBatch::from_rows(&sparse, &rows).expect("gather");
    c.bench_function("sparse_batch_gather", |b| {
        b.iter(|| batch.gather(&sparse, black_box(&rows)).expect("gather"))
    });
    let mut first = SparseAffine::from(affine.clone());
    c.bench_function("affine_forward_sparse", |b| {
        b.iter(|| first.forward(black_box(batch.view())).expect("forward"))
    });
    c.bench_function("affine_backward_sparse", |b| {
        b.iter(|| {
            first
                .backward(batch.view(), black_box(dout.view()))
                .expect("backward")
        })
    });

    let mut relu = Relu::new();
    let h = Array2::<f32>::from_shape_fn((BATCH, 50), |(i, j)| (i as f32 - j as f32) * 0.01);
    c.bench_function("relu_forward_backward", |b| {
        b.iter(|| {
            Layer::<f32>::forward(&mut relu, black_box(h.view())).expect("forward");
            relu.backward(black_box(h.view())).expect("backward")
        })
    });
    let mut last = SoftmaxWithLoss::<f32>::new();
    let scores = Array2::<f32>::from_shape_fn((BATCH, 10), |(i, j)| ((i * j) % 7) as f32 * 0.1);
    c.bench_function("softmax_with_loss_forward_backward", |b| {
        b.iter(|| {
            last.forward(black_box(scores.view()), Targets::Labels(&labels))
                .expect("forward");
            last.backward(1.0).expect("backward")
        })
    });

    let mut net = TwoLayerNet::<f32>::new(784, 50, 10, 0.01, &mut rng)
        .expect("net")
        .into_inner();
    c.bench_function("train_step_dense", |b| {
        b.iter(|| {
            net.gradient(black_box(xf.view()), Targets::Labels(&labels))
                .expect("step")
                .loss
        })
    });
    let mut net: MultiLayerNet<f32, SparseAffine<f32>> = net.with_input_layer();
    c.bench_function("train_step_sparse", |b| {
        b.iter(|| {
            batch.gather(&sparse, black_box(&rows)).expect("gather");
            net.gradient(batch.view(), Targets::Labels(&labels))
                .expect("step")
                .loss
        })
    });
}

mod group {
    #![allow(missing_docs)] // criterion's macro defines an undocumented `pub fn`
    criterion::criterion_group!(benches, super::layers);
}
use group::benches;
criterion_main!(benches);
