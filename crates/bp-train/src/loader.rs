//! Drawing minibatches: the [`Sampler`] picks each batch's examples, and the
//! [`Loader`] gathers batches ahead on a thread of its own, which also runs the
//! evaluations between batches.
//!
//! Gathering a sparse minibatch reads about 100 random rows of the training set,
//! mostly cache misses: in `cargo xtask train` it was about a third of each step.
//! The loader does it while the training thread runs backprop on the previous
//! batch. It draws from the same generator in the same order as the loop would,
//! so the batches, and every number of the run, are the same either way.

use std::collections::VecDeque;
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::thread::Scope;
use std::time::{Duration, Instant};

use bp_core::Float;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::config::Sampling;
use crate::data::TrainData;
use crate::error::{Result, TrainError};
use crate::eval::EVAL_CHUNK;
use crate::input::{Batch, Inputs, Net, Part};

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

/// Most batches in flight: one being trained on, the rest filled ahead. A
/// deep queue lets the loader evaluate for a while without the training thread
/// running dry. Whole MNIST runs got faster up to 64 (measured; a shallower
/// queue, to keep the buffers in the caches, was slower).
const MAX_BATCHES_IN_FLIGHT: usize = 64;

/// Memory the queue may take: fewer batches in flight when they are large
/// (an MNIST sparse batch is about 100 KB, so 64 of them take 6 MB).
const QUEUE_BYTES: usize = 8 << 20;

/// Everything the loader thread needs to draw and gather batches.
pub(crate) struct LoaderJob<'a> {
    pub inputs: Inputs,
    /// The data: batches are drawn from `data.train`; evaluations cover both splits.
    pub data: TrainData<'a>,
    pub sampler: Sampler,
    pub rng: ChaCha8Rng,
    pub batch_size: usize,
    /// How many batches to produce.
    pub count: usize,
}

/// An evaluation the loader thread has finished.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Evaluated {
    /// The iteration it was asked for.
    pub iter: usize,
    /// Accuracy on the training set and on the test set.
    pub accs: (f64, f64),
    /// Time spent evaluating (not counting the batches gathered in between).
    pub took: Duration,
}

/// What the training thread sends the loader thread.
enum Message<F> {
    /// Used batches, to refill.
    Spent(Vec<Batch<F>>),
    /// Evaluate this copy of the net, after iteration `iter`.
    Evaluate(usize, Box<Net<F>>),
}

/// The training thread's end of a loader thread: full batches come in, used
/// ones go back to be refilled, a few at a time (each hand-over may wake the
/// loader, a system call), and evaluations are handed over and come back done.
/// Dropping it stops the thread.
///
/// The loader thread fills batches first and evaluates when the queue is
/// full, a slice of rows at a time. So two threads share two cores: the
/// training thread never competes with a third thread for its core, and waits
/// for a batch less often.
pub(crate) struct Loader<F> {
    full: Receiver<Result<Batch<F>>>,
    to_thread: Sender<Message<F>>,
    evaluated: Receiver<Result<Evaluated>>,
    spent: Vec<Batch<F>>,
    group: usize,
}

/// An evaluation in progress on the loader thread.
struct Evaluation<F> {
    iter: usize,
    net: Box<Net<F>>,
    /// Correct so far on the training set, then on the test set.
    correct: [usize; 2],
    /// The next split (0: training, 1: test) and row to evaluate.
    part: usize,
    row: usize,
    took: Duration,
}

impl<F: Float> Evaluation<F> {
    /// Evaluates the next chunk of rows (a small slice of work, so a loader
    /// busy evaluating is back to filling batches long before the queue runs
    /// dry); returns the accuracies once every row of both splits is done.
    fn step(&mut self, inputs: &Inputs, data: &TrainData<'_>) -> Result<Option<(f64, f64)>> {
        let t = Instant::now();
        let parts = [
            (Part::Train, data.train.len()),
            (Part::Test, data.test.len()),
        ];
        let (part, len) = parts[self.part];
        let end = (self.row + EVAL_CHUNK).min(len);
        self.correct[self.part] +=
            inputs.count_correct(&mut self.net, data, part, self.row..end)?;
        self.row = end;
        if self.row == len {
            self.part += 1;
            self.row = 0;
        }
        self.took += t.elapsed();
        Ok((self.part == parts.len()).then(|| {
            let acc = |k: usize| self.correct[k] as f64 / parts[k].1.max(1) as f64;
            (acc(0), acc(1))
        }))
    }
}

impl<F: Float> Loader<F> {
    /// Starts the thread in `scope`; it fills batches until `job.count` are
    /// made, and evaluates what it is sent, until the `Loader` is dropped.
    pub fn spawn<'scope, 'env>(scope: &'scope Scope<'scope, 'env>, job: LoaderJob<'env>) -> Self {
        let depth = (QUEUE_BYTES
            / job
                .inputs
                .batch_bytes::<F>(job.batch_size, job.data.train.width())
                .max(1))
        .clamp(2, MAX_BATCHES_IN_FLIGHT);
        let (full_tx, full) = channel();
        let (to_thread, from_main) = channel::<Message<F>>();
        let (evaluated_tx, evaluated) = channel();
        // Cannot fail: `from_main` is alive.
        let _ = to_thread.send(Message::Spent(
            (0..depth).map(|_| job.inputs.new_batch()).collect(),
        ));
        scope.spawn(move || {
            let LoaderJob {
                inputs,
                data,
                mut sampler,
                mut rng,
                batch_size,
                count,
            } = job;
            let mut indices = Vec::with_capacity(batch_size);
            let mut empty: Vec<Batch<F>> = Vec::new();
            let mut evaluations: VecDeque<Evaluation<F>> = VecDeque::new();
            let mut made = 0;
            loop {
                // Everything already sent, without waiting.
                loop {
                    match from_main.try_recv() {
                        Ok(m) => take(m, &mut empty, &mut evaluations),
                        Err(TryRecvError::Empty) => break,
                        // The `Loader` was dropped: the training loop stopped.
                        Err(TryRecvError::Disconnected) => return,
                    }
                }
                // Batches first: the training loop waits for them.
                if made < count {
                    if let Some(mut batch) = empty.pop() {
                        sampler.next(&mut rng, data.train.len(), batch_size, &mut indices);
                        let filled = inputs
                            .gather(&data.train, &indices, &mut batch)
                            .map(|()| batch);
                        made += 1;
                        if full_tx.send(filled).is_err() {
                            return;
                        }
                        continue;
                    }
                }
                let Some(evaluation) = evaluations.front_mut() else {
                    // Nothing to do until the training loop sends something.
                    match from_main.recv() {
                        Ok(m) => take(m, &mut empty, &mut evaluations),
                        Err(_) => return,
                    }
                    continue;
                };
                let done = match evaluation.step(&inputs, &data) {
                    Ok(None) => continue,
                    Ok(Some(accs)) => Ok(Evaluated {
                        iter: evaluation.iter,
                        accs,
                        took: evaluation.took,
                    }),
                    Err(e) => Err(e),
                };
                // A failed evaluation is reported to the training loop, which stops.
                evaluations.pop_front();
                if evaluated_tx.send(done).is_err() {
                    return;
                }
            }
        });
        Self {
            full,
            to_thread,
            evaluated,
            spent: Vec::new(),
            group: (depth / 4).clamp(1, 8),
        }
    }

    /// The next batch, in the order the generator draws them.
    pub fn next(&self) -> Result<Batch<F>> {
        self.full.recv().map_err(|_| stopped())?
    }

    /// Hands a used batch back for refilling.
    pub fn give_back(&mut self, batch: Batch<F>) {
        self.spent.push(batch);
        if self.spent.len() >= self.group {
            // The thread may have made its last batch already: nothing to do then.
            let _ = self
                .to_thread
                .send(Message::Spent(std::mem::take(&mut self.spent)));
        }
    }

    /// Asks the thread to evaluate `net` (a copy of the net after iteration
    /// `iter`) between batches; the results come back in the order asked.
    pub(crate) fn evaluate(&self, iter: usize, net: Net<F>) -> Result<()> {
        self.to_thread
            .send(Message::Evaluate(iter, Box::new(net)))
            .map_err(|_| stopped())
    }

    /// A finished evaluation, if one is ready.
    pub fn try_evaluated(&self) -> Option<Result<Evaluated>> {
        match self.evaluated.try_recv() {
            Ok(done) => Some(done),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(stopped())),
        }
    }

    /// Waits for the next finished evaluation.
    pub fn evaluated(&self) -> Result<Evaluated> {
        self.evaluated.recv().map_err(|_| stopped())?
    }
}

/// Files a message from the training thread.
fn take<F>(m: Message<F>, empty: &mut Vec<Batch<F>>, evaluations: &mut VecDeque<Evaluation<F>>) {
    match m {
        Message::Spent(batches) => empty.extend(batches),
        Message::Evaluate(iter, net) => evaluations.push_back(Evaluation {
            iter,
            net,
            correct: [0; 2],
            part: 0,
            row: 0,
            took: Duration::ZERO,
        }),
    }
}

fn stopped() -> TrainError {
    TrainError::thread("the batch loader thread stopped early")
}
