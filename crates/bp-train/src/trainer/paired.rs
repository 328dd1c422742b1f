//! The sparse path's training loop on two threads, the caller's (main) and a
//! helper ([`Trainer::run`] uses it on two or more cores).
//!
//! Each step is four phases, and both threads meet at a barrier after each:
//! 1. `h1 = x W1 + b1`: main the first half of the batch's rows, the helper
//!    the second half;
//! 2. main: the rest of the net, the loss and the backward pass down to `dh1`,
//!    then the first rows of `dW1 = xᵀ dh1` (the columns of `x` holding the
//!    first fifth of the batch's non-zeros); the helper: finishes the next
//!    minibatch (its column index);
//! 3. `dW1`'s other rows: main up to 64% of the non-zeros, the helper the
//!    rest; with plain SGD the helper also updates its rows of `W1` there;
//! 4. main: the rest of the update and the divergence checks; the helper
//!    begins gathering the minibatch after next.
//!
//! The helper sorts each minibatch by column in phase 2 (22-28 µs on MNIST),
//! longer than main's small layers: main fills that wait with its first share
//! of `dW1`, which is 2-3% faster than the whole backward in phase 3 at 60/40
//! (`cargo xtask bench --runs 9 --against` the older build, `--split-steps`,
//! twice). Shares tilted further towards main measured the same, within noise.
//!
//! Evaluations split each set in two halves the same way, after phase 4.
//! Rows and columns are split, sums are not: every number is computed exactly
//! as on one thread, so a run gives the same results bit for bit.
//!
//! The steps are short (tens of microseconds), so the threads wait for each
//! other by spinning, and yield only after a while. Whatever both threads use
//! sits behind a lock that the barriers keep uncontended, so there is no
//! `unsafe` here.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use bp_core::{Float, Targets};
use bp_layers::sparse::{sparse_correct, SparseBatch, SparseRows, EVAL_CHUNK};
use bp_layers::{MultiLayerNet, ParamMut};
use ndarray::{s, Array2, Axis};
use rand_chacha::ChaCha8Rng;

use super::{
    apply_update, check_finite, lane_sum, Check, Evaluation, GradNorms, History, Observer, Plan,
    Trainer,
};
use crate::data::{SplitView, TrainData};
use crate::error::{Result, TrainError};
use crate::input::{Batch, Inputs};
use crate::loader::Sampler;

/// Spins before a waiting thread starts yielding its core (about 50 µs):
/// longer than any phase of a step, shorter than a scheduler's time slice.
const SPINS_BEFORE_YIELD: u32 = 1 << 14;

/// Where `dW1`'s rows are cut, as shares of the batch's non-zeros: main's
/// rows in phase 2 (beside the helper's sort of the next batch), then main's
/// in phase 3 (the helper also updates and checks its rows of `W1` there).
const MAIN_COLUMNS: [(usize, usize); 2] = [(1, 5), (16, 25)];

/// The first row of the helper's half of a batch of `n` rows in phase 1.
fn helper_rows_start(n: usize) -> usize {
    n / 2
}

/// Where the batch's `dW1` is cut between phases and threads (see [`MAIN_COLUMNS`]).
fn column_cuts(x: &SparseBatch, width: usize) -> [usize; 2] {
    MAIN_COLUMNS.map(|(num, den)| x.split_columns(num, den).min(width))
}

/// The barrier main and the helper meet at, with a way to give up: either
/// thread sets `abort` when it stops early (an error or a panic), so the other
/// stops waiting.
struct Barrier {
    /// How many times each thread has arrived, on separate cache lines.
    arrived: [Padded; 2],
    abort: AtomicBool,
}

#[repr(align(128))]
struct Padded(AtomicU64);

/// The other thread stopped early.
struct Aborted;

impl Barrier {
    fn new() -> Self {
        Self {
            arrived: [Padded(AtomicU64::new(0)), Padded(AtomicU64::new(0))],
            abort: AtomicBool::new(false),
        }
    }

    /// Thread `me` (0 or 1) arrives for the `count`-th time; returns when the
    /// other one has arrived as often, or `Aborted` if it stopped instead.
    fn wait(&self, me: usize, count: &mut u64) -> std::result::Result<(), Aborted> {
        *count += 1;
        self.arrived[me].0.store(*count, Ordering::Release);
        let other = &self.arrived[1 - me].0;
        let mut spins = 0u32;
        loop {
            if other.load(Ordering::Acquire) >= *count {
                return Ok(());
            }
            if self.abort.load(Ordering::Acquire) {
                // The other thread may have arrived just before it stopped.
                return if other.load(Ordering::Acquire) >= *count {
                    Ok(())
                } else {
                    Err(Aborted)
                };
            }
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Sets the barrier's `abort` when dropped: when its thread's loop ends, by
/// returning or by a panic, the other thread does not wait for it forever.
struct AbortOnDrop<'b>(&'b Barrier);

impl Drop for AbortOnDrop<'_> {
    fn drop(&mut self) {
        self.0.abort.store(true, Ordering::Release);
    }
}

/// What both threads use, each behind a lock.
struct Shared<'n, F> {
    net: RwLock<&'n mut MultiLayerNet<F>>,
    /// The current minibatch and the next, alternating (step `t` trains on
    /// `batches[t % 2]`).
    batches: [RwLock<Batch<F>>; 2],
    /// The helper's half of `h1` (phase 1).
    h1_half: Mutex<Array2<F>>,
    /// `dh1`, from main (phase 2).
    dh1: RwLock<Array2<F>>,
    /// Whether phase 2's loss is finite: with plain SGD the helper updates its
    /// rows of `W1` in phase 3 only then.
    loss_finite: AtomicBool,
    /// Whether the helper's rows of `W1` were finite after its update.
    rows_finite: AtomicBool,
    /// The learning rate when the optimizer is plain SGD (see
    /// [`Optimizer::plain_sgd_rate`](crate::optim::Optimizer::plain_sgd_rate)).
    sgd_rate: Option<F>,
    /// The helper's correct counts on its halves of the training and test sets.
    correct: Mutex<[usize; 2]>,
    /// An error the helper stopped on.
    error: Mutex<Option<TrainError>>,
    barrier: Barrier,
}

/// What drawing the next minibatch needs, borrowed apart from the net.
struct Draw<'t, 'a> {
    sampler: &'t mut Sampler,
    rng: &'t mut ChaCha8Rng,
    indices: &'t mut Vec<usize>,
    inputs: &'t Inputs,
    train: &'t SplitView<'a>,
    batch_size: usize,
}

impl Draw<'_, '_> {
    /// Draws the next minibatch and begins it: [`Inputs::gather_rows`].
    fn rows<F: Float>(&mut self, batch: &mut Batch<F>) -> Result<()> {
        self.sampler
            .next(self.rng, self.train.len(), self.batch_size, self.indices);
        self.inputs.gather_rows(self.train, self.indices, batch)
    }

    /// Fills `batch` with the next minibatch, as [`Trainer::step`] would draw it.
    fn fill<F: Float>(&mut self, batch: &mut Batch<F>) -> Result<()> {
        self.rows(batch)?;
        batch.index_columns();
        Ok(())
    }
}

/// The sparse sets and the schedule, the same for both threads.
struct Setup<'s, 'a> {
    train: &'s SparseRows,
    test: &'s SparseRows,
    data: TrainData<'a>,
    start: usize,
    iters: usize,
    plan: Plan,
}

impl Setup<'_, '_> {
    /// Rows of each set (training, test) that thread `me` evaluates.
    fn eval_rows(&self, me: usize) -> [std::ops::Range<usize>; 2] {
        [self.train.nrows(), self.test.nrows()].map(|n| {
            // Whole chunks for main, so every chunk but the last is full.
            let mid = (n / 2).next_multiple_of(EVAL_CHUNK).min(n);
            if me == 0 {
                0..mid
            } else {
                mid..n
            }
        })
    }

    /// Thread `me`'s correct counts on its halves of the training and test sets.
    fn count_correct<F: Float>(&self, net: &MultiLayerNet<F>, me: usize) -> Result<[usize; 2]> {
        let [train_rows, test_rows] = self.eval_rows(me);
        Ok([
            sparse_correct(net, self.train, self.data.train.labels, train_rows)?,
            sparse_correct(net, self.test, self.data.test.labels, test_rows)?,
        ])
    }
}

fn sparse<F>(batch: &Batch<F>) -> Result<(&SparseBatch, &[usize])> {
    match batch {
        Batch::Sparse { rows, labels } => Ok((rows, labels)),
        Batch::Dense(_) => Err(TrainError::data("the two-thread loop needs sparse batches")),
    }
}

fn poisoned<T>(_: T) -> TrainError {
    TrainError::data("a training thread panicked")
}

impl<'a, F: Float> Trainer<'a, F> {
    /// Whether [`run`](Trainer::run) can use [`run_paired`](Self::run_paired).
    pub(super) fn can_pair(&self) -> bool {
        matches!(self.inputs, Inputs::Sparse { .. })
    }

    /// The loop of [`run`](Trainer::run) on two threads: trains to
    /// `plan.iters`, evaluating on schedule, and returns the time spent
    /// training and evaluating.
    pub(super) fn run_paired(
        &mut self,
        plan: &Plan,
        history: &mut History,
        observer: &mut dyn Observer,
    ) -> Result<(Duration, Duration)> {
        let (mut train_time, mut eval_time) = (Duration::ZERO, Duration::ZERO);
        let Inputs::Sparse { train, test } = &self.inputs else {
            return Err(TrainError::data("the two-thread loop needs sparse inputs"));
        };
        let (train, test) = (train.clone(), test.clone());
        if self.iter >= plan.iters {
            return Ok((train_time, eval_time));
        }
        let setup = Setup {
            train: &train,
            test: &test,
            data: self.data,
            start: self.iter,
            iters: plan.iters,
            plan: *plan,
        };
        let first = &self.net.affines()[0];
        let (hidden, n) = (first.output_size(), self.config.batch_size);
        let mut batch = self.batch.take().unwrap_or_else(|| self.inputs.new_batch());
        let Self {
            net,
            optimizer,
            sampler,
            rng,
            indices,
            inputs,
            data,
            config,
            iter,
            ..
        } = self;
        let mut draw = Draw {
            sampler,
            rng,
            indices,
            inputs,
            train: &data.train,
            batch_size: config.batch_size,
        };
        draw.fill(&mut batch)?;
        let shared = Shared {
            net: RwLock::new(net),
            batches: [RwLock::new(batch), RwLock::new(inputs.new_batch())],
            h1_half: Mutex::new(Array2::zeros((n - helper_rows_start(n), hidden))),
            dh1: RwLock::new(Array2::zeros((0, 0))),
            loss_finite: AtomicBool::new(false),
            rows_finite: AtomicBool::new(true),
            sgd_rate: optimizer.plain_sgd_rate(),
            correct: Mutex::new([0; 2]),
            error: Mutex::new(None),
            barrier: Barrier::new(),
        };
        let result = std::thread::scope(|scope| {
            let helper = std::thread::Builder::new()
                .name("bp-train-helper".into())
                .spawn_scoped(scope, || helper(&shared, &setup, draw))
                .map_err(|e| TrainError::data(format!("cannot start a training thread: {e}")))?;
            let result = main(
                &shared,
                &setup,
                &mut **optimizer,
                iter,
                history,
                observer,
                (&mut train_time, &mut eval_time),
            );
            let helper = helper.join().map_err(poisoned);
            // The helper's own error explains why main stopped, if it did.
            match (result, helper) {
                (Ok(()), Ok(())) => Ok(()),
                (_, Err(e)) => Err(e),
                (Err(e), Ok(())) => Err(shared.error.lock().map_err(poisoned)?.take().unwrap_or(e)),
            }
        });
        // Kept for `step` to reuse.
        let [batch, _] = shared.batches;
        self.batch = batch.into_inner().ok();
        result.map(|()| (train_time, eval_time))
    }
}

/// Main's part of a plain SGD update: every parameter but the rows of `W1`
/// from `cut` on, which the helper updated. Checks for divergence as
/// [`apply_update`] does, with the same error.
fn update_all_but_helper_rows<F: Float>(
    net: &mut MultiLayerNet<F>,
    optimizer: &mut dyn super::Optimizer<F>,
    cut: usize,
    helper_rows_finite: bool,
    iter: usize,
) -> Result<()> {
    let mine: Vec<ParamMut<'_, F>> = net
        .params_mut()
        .into_iter()
        .enumerate()
        .map(|(i, p)| match i {
            0 => ParamMut {
                name: p.name,
                value: p.value.split_at(Axis(0), cut).0,
                grad: p.grad.split_at(Axis(0), cut).0,
            },
            _ => p,
        })
        .collect();
    optimizer.update(mine);
    let mine_finite = net.params().iter().enumerate().all(|(i, p)| {
        let value = if i == 0 {
            p.value.slice_axis(Axis(0), (..cut).into())
        } else {
            p.value.view()
        };
        value
            .as_slice()
            .map_or_else(|| value.sum(), lane_sum)
            .is_finite()
    });
    if mine_finite && helper_rows_finite {
        return Ok(());
    }
    // Something diverged: name it as `apply_update` does.
    if let Err(weights) = check_finite(iter, &net.params(), Check::Weights) {
        check_finite(iter, &net.params(), Check::Gradients)?;
        return Err(weights);
    }
    Ok(())
}

/// Main's side of the loop (thread 0).
fn main<F: Float>(
    shared: &Shared<'_, F>,
    setup: &Setup<'_, '_>,
    optimizer: &mut dyn super::Optimizer<F>,
    iter: &mut usize,
    history: &mut History,
    observer: &mut dyn Observer,
    (train_time, eval_time): (&mut Duration, &mut Duration),
) -> Result<()> {
    let _abort = AbortOnDrop(&shared.barrier);
    let mut count = 0;
    let mut wait = || {
        shared
            .barrier
            .wait(0, &mut count)
            .map_err(|Aborted| TrainError::data("the helper training thread stopped early"))
    };
    let mut dw_top = {
        let net = shared.net.read().map_err(poisoned)?;
        Array2::zeros(net.affines()[0].dw.raw_dim())
    };
    while *iter < setup.iters {
        let t0 = Instant::now();
        let cur = &shared.batches[(*iter - setup.start) % 2];
        // Phase 1: the first half of h1.
        let (mut h1, [cut1, cut]) = {
            let net = shared.net.read().map_err(poisoned)?;
            let batch = cur.read().map_err(poisoned)?;
            let (x, _) = sparse(&batch)?;
            let first = &net.affines()[0];
            let (n, mid) = (x.nrows(), helper_rows_start(x.nrows()));
            let mut h1 = Array2::zeros((n, first.output_size()));
            x.affine_forward_rows(
                0..mid,
                first.w.view(),
                first.b.view(),
                h1.slice_mut(s![..mid, ..]),
            )?;
            (h1, column_cuts(x, first.dw.nrows()))
        };
        wait()?;
        // Phase 2: the rest of the net, down to dh1, then the first rows of
        // dW1, in a buffer of main's own (the helper holds the net in phase 3,
        // to write its rows).
        let loss = {
            let mut net = shared.net.write().map_err(poisoned)?;
            let batch = cur.read().map_err(poisoned)?;
            let (x, labels) = sparse(&batch)?;
            let mid = helper_rows_start(h1.nrows());
            h1.slice_mut(s![mid.., ..])
                .assign(&*shared.h1_half.lock().map_err(poisoned)?);
            let loss = net.loss_after_first(h1, Targets::Labels(labels))?;
            let dh1 = net.backward_to_first()?;
            shared
                .loss_finite
                .store(loss.is_finite(), Ordering::Relaxed);
            x.affine_backward_cols(dh1.view(), 0..cut1, dw_top.slice_mut(s![..cut1, ..]))?;
            *shared.dh1.write().map_err(poisoned)? = dh1;
            loss
        };
        wait()?;
        // Phase 3: main's other rows of dW1.
        let db = {
            let batch = cur.read().map_err(poisoned)?;
            let (x, _) = sparse(&batch)?;
            let dh1 = shared.dh1.read().map_err(poisoned)?;
            x.affine_backward_cols(dh1.view(), cut1..cut, dw_top.slice_mut(s![cut1..cut, ..]))?;
            dh1.sum_axis(Axis(0))
        };
        wait()?;
        // Phase 4: main's rows of dW1 into the net, then the update.
        {
            let mut net = shared.net.write().map_err(poisoned)?;
            let first = &mut net.affines_mut()[0];
            first
                .dw
                .slice_mut(s![..cut, ..])
                .assign(&dw_top.slice(s![..cut, ..]));
            first.db.assign(&db);
            match shared.sgd_rate {
                Some(_) if loss.is_finite() => {
                    let rows_finite = shared.rows_finite.load(Ordering::Relaxed);
                    update_all_but_helper_rows(&mut net, optimizer, cut, rows_finite, *iter)?
                }
                _ => apply_update(&mut net, optimizer, *iter, loss)?,
            }
        }
        let done = *iter;
        *iter += 1;
        *train_time += t0.elapsed();
        let loss = loss.to_f64_exact();
        history.loss.push(loss);
        observer.on_iteration(done, loss);
        wait()?;
        if setup.plan.evaluates_after(done) {
            let t1 = Instant::now();
            let net = shared.net.read().map_err(poisoned)?;
            // Both threads' rows of dW1 are in the net since the last barrier.
            history.grad_norms.push(GradNorms::of(done, &**net));
            let mine = setup.count_correct(&**net, 0)?;
            drop(net);
            wait()?;
            let theirs = *shared.correct.lock().map_err(poisoned)?;
            let acc = |k: usize, n: usize| (mine[k] + theirs[k]) as f64 / n.max(1) as f64;
            let eval = Evaluation {
                iter: done,
                epoch: done / setup.plan.epoch_len,
                train_acc: acc(0, setup.train.nrows()),
                test_acc: acc(1, setup.test.nrows()),
            };
            *eval_time += t1.elapsed();
            history.evaluations.push(eval);
            observer.on_evaluation(&eval);
        }
    }
    Ok(())
}

/// The helper's side of the loop (thread 1). It stops quietly when main
/// does; its own errors are left in `shared.error`.
fn helper<F: Float>(shared: &Shared<'_, F>, setup: &Setup<'_, '_>, mut draw: Draw<'_, '_>) {
    let _abort = AbortOnDrop(&shared.barrier);
    let result = (|| -> Result<()> {
        let mut count = 0;
        for iter in setup.start..setup.iters {
            let (cur, next) = {
                let t = (iter - setup.start) % 2;
                (&shared.batches[t], &shared.batches[1 - t])
            };
            // Phase 1: the second half of h1.
            let [_, cut] = {
                let net = shared.net.read().map_err(poisoned)?;
                let batch = cur.read().map_err(poisoned)?;
                let (x, _) = sparse(&batch)?;
                let first = &net.affines()[0];
                let (n, mid) = (x.nrows(), helper_rows_start(x.nrows()));
                let mut half = shared.h1_half.lock().map_err(poisoned)?;
                x.affine_forward_rows(mid..n, first.w.view(), first.b.view(), half.view_mut())?;
                column_cuts(x, first.dw.nrows())
            };
            if shared.barrier.wait(1, &mut count).is_err() {
                return Ok(());
            }
            // Phase 2: finishes the next minibatch (begun in the last phase 4,
            // except before the first step).
            if iter + 1 < setup.iters {
                let mut next = next.write().map_err(poisoned)?;
                if iter == setup.start {
                    draw.rows(&mut next)?;
                }
                next.index_columns();
            }
            if shared.barrier.wait(1, &mut count).is_err() {
                return Ok(());
            }
            // Phase 3: the last columns' rows of dW1, straight into the net;
            // with plain SGD, their update too.
            {
                let mut net = shared.net.write().map_err(poisoned)?;
                let batch = cur.read().map_err(poisoned)?;
                let (x, _) = sparse(&batch)?;
                let dh1 = shared.dh1.read().map_err(poisoned)?;
                let first = &mut net.affines_mut()[0];
                let width = first.dw.nrows();
                x.affine_backward_cols(dh1.view(), cut..width, first.dw.slice_mut(s![cut.., ..]))?;
                if let Some(lr) = shared.sgd_rate {
                    if shared.loss_finite.load(Ordering::Relaxed) {
                        let mut w = first.w.slice_mut(s![cut.., ..]);
                        w.scaled_add(-lr, &first.dw.slice(s![cut.., ..]));
                        let sum = w.as_slice().map_or_else(|| w.sum(), lane_sum);
                        shared.rows_finite.store(sum.is_finite(), Ordering::Relaxed);
                    }
                }
            }
            if shared.barrier.wait(1, &mut count).is_err() {
                return Ok(());
            }
            // Phase 4, main's update: begins the minibatch after next, in the
            // buffer this step is done with.
            if iter + 2 < setup.iters {
                draw.rows(&mut *cur.write().map_err(poisoned)?)?;
            }
            if shared.barrier.wait(1, &mut count).is_err() {
                return Ok(());
            }
            if setup.plan.evaluates_after(iter) {
                let net = shared.net.read().map_err(poisoned)?;
                *shared.correct.lock().map_err(poisoned)? = setup.count_correct(&net, 1)?;
                drop(net);
                if shared.barrier.wait(1, &mut count).is_err() {
                    return Ok(());
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        if let Ok(mut slot) = shared.error.lock() {
            *slot = Some(e);
        }
    }
}
