//! Helpers shared by the bp-layers integration tests.
#![allow(dead_code)]

use ndarray::{Array, Array2, Dimension};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded generator, so every test sees the same data on every run.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A `(rows, cols)` matrix with entries uniform in `[lo, hi)`.
pub fn uniform(rng: &mut ChaCha8Rng, rows: usize, cols: usize, lo: f64, hi: f64) -> Array2<f64> {
    Array2::from_shape_simple_fn((rows, cols), || rng.random_range(lo..hi))
}

/// `max |a - b|` divided by the largest magnitude in either array.
pub fn max_rel_err<D: Dimension>(a: &Array<f64, D>, b: &Array<f64, D>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    let diff = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    let scale = a.iter().chain(b).map(|v| v.abs()).fold(0.0, f64::max);
    if scale == 0.0 {
        0.0
    } else {
        diff / scale
    }
}

/// Asserts that backprop and numerical gradients agree to `1e-6` relative error.
pub fn assert_grad_close<D: Dimension>(
    what: &str,
    backprop: &Array<f64, D>,
    numerical: &Array<f64, D>,
) {
    let err = max_rel_err(backprop, numerical);
    assert!(err < 1e-6, "{what}: max relative error {err:e}");
}
