//! Drawing minibatches: the [`Sampler`] picks each batch's examples, and the
//! [`Loader`] gathers batches one step ahead on a thread of its own.
//!
//! Gathering a sparse minibatch reads about 100 random rows of the training set,
//! mostly cache misses: in `cargo xtask train` it was about a third of each step.
//! The loader does it while the training thread runs backprop on the previous
//! batch. It draws from the same generator in the same order as the loop would,
//! so the batches, and every number of the run, are the same either way.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::Scope;

use bp_core::Float;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::config::Sampling;
use crate::data::SplitView;
use crate::error::{Result, TrainError};
use crate::input::{Batch, Inputs};

/// Draws the example indices of each minibatch.
#[derive(Debug, Clone)]
pub(crate) struct Sampler {
    sampling: Sampling,
    /// Shuffled epochs: the current permutation and the position in it.
    perm: Vec<usize>,
    pos: usize,
}

impl Sampler {
    pub fn new(sampling: Sampling, n: usize) -> Self {
        let perm = match sampling {
            Sampling::WithReplacement => Vec::new(),
            Sampling::ShuffledEpochs => (0..n).collect(),
        };
        let pos = perm.len();
        Self {
            sampling,
            perm,
            pos,
        }
    }

    /// Replaces `out` with the next batch of `batch` indices below `n`.
    pub fn next(&mut self, rng: &mut ChaCha8Rng, n: usize, batch: usize, out: &mut Vec<usize>) {
        out.clear();
        match self.sampling {
            Sampling::WithReplacement => out.extend((0..batch).map(|_| rng.random_range(0..n))),
            Sampling::ShuffledEpochs => {
                if self.pos + batch > self.perm.len() {
                    self.perm.shuffle(rng);
                    self.pos = 0;
                }
                out.extend_from_slice(&self.perm[self.pos..self.pos + batch]);
                self.pos += batch;
            }
        }
    }
}

/// Most batches in flight: one being trained on, the rest filled ahead. The
/// loader shares its core with the evaluations, so it falls behind during each
/// one and catches up after; a deep queue keeps the training thread fed
/// meanwhile. Measured on MNIST with 8 alternating whole runs of
/// `cargo xtask train` each (median wall time): 3 batches 1.57 s, 16: 1.36 s,
/// 32: 1.26 s, 64: 1.20 s.
const MAX_BATCHES_IN_FLIGHT: usize = 64;

/// Memory the queue may take: fewer batches in flight when they are large
/// (an MNIST sparse batch is about 100 KB, so 64 of them take 6 MB).
const QUEUE_BYTES: usize = 8 << 20;

/// Everything the loader thread needs to draw and gather batches.
pub(crate) struct LoaderJob<'a> {
    pub inputs: Inputs,
    pub train: SplitView<'a>,
    pub sampler: Sampler,
    pub rng: ChaCha8Rng,
    pub batch_size: usize,
    /// How many batches to produce.
    pub count: usize,
}

/// The training thread's end of a loader thread: full batches come in, used
/// ones go back to be refilled, a few at a time (each hand-over may wake the
/// loader, a system call). Dropping it stops the thread.
pub(crate) struct Loader<F> {
    full: Receiver<Result<Batch<F>>>,
    free: Sender<Vec<Batch<F>>>,
    spent: Vec<Batch<F>>,
    group: usize,
}

impl<F: Float> Loader<F> {
    /// Starts the thread in `scope`; it fills batches until `job.count` are made
    /// or the `Loader` is dropped.
    pub fn spawn<'scope, 'env>(scope: &'scope Scope<'scope, 'env>, job: LoaderJob<'env>) -> Self {
        let depth = (QUEUE_BYTES
            / job
                .inputs
                .batch_bytes::<F>(job.batch_size, job.train.width())
                .max(1))
        .clamp(2, MAX_BATCHES_IN_FLIGHT);
        let (full_tx, full) = channel();
        let (free, free_rx) = channel::<Vec<Batch<F>>>();
        // Cannot fail: `free_rx` is alive.
        let _ = free.send((0..depth).map(|_| job.inputs.new_batch()).collect());
        scope.spawn(move || {
            let LoaderJob {
                inputs,
                train,
                mut sampler,
                mut rng,
                batch_size,
                count,
            } = job;
            let mut indices = Vec::with_capacity(batch_size);
            let mut empty = Vec::new();
            for _ in 0..count {
                let mut batch = loop {
                    if let Some(batch) = empty.pop() {
                        break batch;
                    }
                    // The `Loader` was dropped: the training loop stopped.
                    let Ok(more) = free_rx.recv() else {
                        return;
                    };
                    empty = more;
                };
                sampler.next(&mut rng, train.len(), batch_size, &mut indices);
                let filled = inputs.gather(&train, &indices, &mut batch).map(|()| batch);
                if full_tx.send(filled).is_err() {
                    return;
                }
            }
        });
        Self {
            full,
            free,
            spent: Vec::new(),
            group: (depth / 4).clamp(1, 8),
        }
    }

    /// The next batch, waiting for it if needed.
    pub fn next(&self) -> Result<Batch<F>> {
        self.full
            .recv()
            .map_err(|_| TrainError::data("the batch loader thread stopped early"))?
    }

    /// Hands a used batch back to be refilled.
    pub fn give_back(&mut self, batch: Batch<F>) {
        self.spent.push(batch);
        if self.spent.len() >= self.group {
            // The thread may have made its last batch already: nothing to do then.
            let _ = self.free.send(std::mem::take(&mut self.spent));
        }
    }
}
