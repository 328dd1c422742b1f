//! Helpers shared by the bp-train integration tests: a small synthetic data set.
#![allow(dead_code)]

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Pixels per synthetic image.
pub const WIDTH: usize = 16;
/// Classes of the synthetic set.
pub const CLASSES: usize = 4;

/// An owned synthetic set: each class has its own prototype image, every example
/// is its prototype plus noise, so a small net can learn it but not in one step.
pub struct Synthetic {
    /// `(n, WIDTH)` pixels.
    pub images: Array2<u8>,
    /// One label per row.
    pub labels: Vec<u8>,
}

impl Synthetic {
    /// `n` examples drawn with `seed`.
    pub fn new(n: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Fixed prototypes (same for every seed), so train and test share them.
        let mut proto_rng = ChaCha8Rng::seed_from_u64(12345);
        let protos: Vec<Vec<f64>> = (0..CLASSES)
            .map(|_| {
                (0..WIDTH)
                    .map(|_| proto_rng.random_range(0.0..255.0))
                    .collect()
            })
            .collect();
        let labels: Vec<u8> = (0..n).map(|_| rng.random_range(0..CLASSES as u8)).collect();
        let images = Array2::from_shape_fn((n, WIDTH), |(i, j)| {
            let v = protos[usize::from(labels[i])][j] + rng.random_range(-90.0..90.0);
            v.clamp(0.0, 255.0) as u8
        });
        Self { images, labels }
    }

    /// The set as a split view.
    pub fn split(&self) -> bp_train::SplitView<'_> {
        bp_train::SplitView::new(self.images.view(), &self.labels).unwrap()
    }
}

/// A training set of `n_train` and a test set of 200 synthetic examples.
pub fn train_test(n_train: usize) -> (Synthetic, Synthetic) {
    (Synthetic::new(n_train, 1), Synthetic::new(200, 2))
}

/// The data of a train/test pair.
pub fn data<'a>(train: &'a Synthetic, test: &'a Synthetic) -> bp_train::TrainData<'a> {
    bp_train::TrainData::new(train.split(), test.split(), CLASSES).unwrap()
}
