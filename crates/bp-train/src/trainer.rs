//! The training loop: [`Trainer`] (one [`step`](Trainer::step) at a time, or the
//! whole [`run`](Trainer::run)), the [`Observer`] it reports to, and the
//! [`History`] it returns.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bp_core::Float;
use bp_layers::{InputLayer, MultiLayerNet, Param};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::{Sampling, TrainConfig};
use crate::data::TrainData;
use crate::error::{Result, TrainError};
use crate::eval::default_eval_threads;
use crate::input::{Batch, InputPath, Inputs, Net};
use crate::loader::{Evaluated, Loader, LoaderJob, Sampler};
use crate::optim::{build_optimizer, Optimizer};
use crate::vector::lane_sum;

/// One evaluation on the full training and test sets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The iteration (0-based) after whose update the model was evaluated.
    pub iter: usize,
    /// The epoch it fell in, `iter / epoch_len` (see [`Plan::epoch_len`]): with
    /// the seed's schedule 0 for the first evaluation, then 1, 2, ...
    pub epoch: usize,
    /// Accuracy on the whole training set.
    pub train_acc: f64,
    /// Accuracy on the whole test set.
    pub test_acc: f64,
}

/// The norm of each parameter's gradient at one evaluation: the gradients of
/// the step just before it (iteration `iter`'s backprop).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GradNorms {
    /// The iteration whose gradients these are (the evaluation's [`Evaluation::iter`]).
    pub iter: usize,
    /// `(parameter name, L2 norm of its gradient)`, in the net's order `W1 b1 W2 b2 ...`.
    pub norms: Vec<(String, f64)>,
}

impl GradNorms {
    /// The L2 norm of each gradient now held by `net` (summed in `f64`).
    pub fn of<F: Float, L1: InputLayer<F>>(iter: usize, net: &MultiLayerNet<F, L1>) -> Self {
        Self::from_params(iter, &net.params())
    }

    /// The L2 norm of each of the gradients `params` (summed in `f64`).
    fn from_params<F: Float>(iter: usize, params: &[Param<'_, F>]) -> Self {
        let norms = params
            .iter()
            .map(|p| {
                let sum: f64 = p.grad.iter().map(|g| g.to_f64_exact().powi(2)).sum();
                (p.name.to_string(), sum.sqrt())
            })
            .collect();
        Self { iter, norms }
    }

    /// The norm of parameter `name`'s gradient, if the net has that parameter.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.norms.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
    }
}

/// Wall-clock time spent in each part of a run, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Loading the data set; measured by the caller (see [`History::set_load_time`]).
    pub load_s: f64,
    /// Training steps (batch conversion, forward, backward, update, checks).
    pub train_s: f64,
    /// Evaluations: the time spent evaluating. With two or more evaluation
    /// threads they run beside the training loop, so this overlaps `train_s`
    /// (and `total_s` is less than the sum).
    pub eval_s: f64,
    /// The whole run: setup, training, evaluations, plus `load_s`.
    pub total_s: f64,
}

/// What a run produced: the loss of every iteration and every evaluation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Loss of each iteration's minibatch, from the forward pass of its backprop
    /// (before the update; the seed logs a second forward pass after it).
    pub loss: Vec<f64>,
    /// Evaluations in order: iteration 0 and every `eval_every` iterations
    /// (see [`TrainConfig::eval_every`]).
    pub evaluations: Vec<Evaluation>,
    /// Evaluation of the returned net, after the last iteration (the same as the
    /// last of `evaluations` when that fell on the last iteration).
    pub final_eval: Option<Evaluation>,
    /// Time spent per part.
    pub timings: Timings,
    /// Gradient norms at each evaluation, in order: one per entry of
    /// `evaluations`, then one for `final_eval` when that is an extra
    /// evaluation. Empty in histories written before they were recorded.
    #[serde(default)]
    pub grad_norms: Vec<GradNorms>,
}

impl History {
    /// Training accuracies, one per evaluation.
    pub fn train_acc(&self) -> Vec<f64> {
        self.evaluations.iter().map(|e| e.train_acc).collect()
    }

    /// Test accuracies, one per evaluation.
    pub fn test_acc(&self) -> Vec<f64> {
        self.evaluations.iter().map(|e| e.test_acc).collect()
    }

    /// Test accuracy of the returned net, after the last iteration: what a saved
    /// checkpoint scores. (The seed prints its last scheduled evaluation instead,
    /// iteration 9600 of 10000 by default.)
    pub fn final_test_acc(&self) -> Option<f64> {
        self.final_eval
            .or(self.evaluations.last().copied())
            .map(|e| e.test_acc)
    }

    /// Each parameter's gradient norm over the recorded evaluations:
    /// `(name, one norm per entry of grad_norms)`, in the net's order. A
    /// parameter missing from an entry counts as NaN there.
    pub fn grad_norm_series(&self) -> Vec<(String, Vec<f64>)> {
        let Some(first) = self.grad_norms.first() else {
            return Vec::new();
        };
        first
            .norms
            .iter()
            .map(|(name, _)| {
                let values = self
                    .grad_norms
                    .iter()
                    .map(|g| g.get(name).unwrap_or(f64::NAN))
                    .collect();
                (name.clone(), values)
            })
            .collect()
    }

    /// Records the caller's data loading time, adding it to the total.
    pub fn set_load_time(&mut self, load: Duration) {
        self.timings.total_s += load.as_secs_f64() - self.timings.load_s;
        self.timings.load_s = load.as_secs_f64();
    }
}

/// What a run will do, told to the observer before the first step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Number of iterations.
    pub iters: usize,
    /// Iterations between evaluations; 0: none before the final one.
    pub eval_every: usize,
    /// Iterations per epoch (one pass's worth of batches).
    pub epoch_len: usize,
    /// Number of evaluations.
    pub evaluations: usize,
    /// Training examples.
    pub train_size: usize,
    /// Test examples.
    pub test_size: usize,
}

impl Plan {
    /// Whether the net is evaluated after iteration `iter`'s update.
    pub fn evaluates_after(&self, iter: usize) -> bool {
        self.eval_every != 0 && iter % self.eval_every == 0
    }
}

/// Receives progress from [`Trainer::run`]; every method does nothing by default.
///
/// The library prints nothing: a CLI shows a progress bar, a test records events.
pub trait Observer {
    /// Before the first step.
    fn on_start(&mut self, _plan: &Plan) {}
    /// After each iteration's update, with the loss of its minibatch.
    fn on_iteration(&mut self, _iter: usize, _loss: f64) {}
    /// After each evaluation.
    fn on_evaluation(&mut self, _eval: &Evaluation) {}
}

/// The observer that ignores everything.
impl Observer for () {}

/// A trained net and how it got there.
#[derive(Debug, Clone)]
pub struct Trained<F> {
    /// The net after the last iteration.
    pub net: MultiLayerNet<F>,
    /// Loss curve, evaluations and timings.
    pub history: History,
}

/// Trains a net on `data` as `config` says, reporting to `observer`.
///
/// Equivalent to `Trainer::new(config, data)?.run(observer)`.
pub fn train<F: Float>(
    config: &TrainConfig,
    data: &TrainData<'_>,
    observer: &mut dyn Observer,
) -> Result<Trained<F>> {
    Trainer::new(config, *data)?.run(observer)
}

/// A training run in progress: the net, the optimizer, the generator and the
/// reused buffers. [`step`](Self::step) and [`evaluate`](Self::evaluate) are
/// separate so a caller can drive the loop itself.
pub struct Trainer<'a, F: Float> {
    config: TrainConfig,
    data: TrainData<'a>,
    net: Net<F>,
    optimizer: Box<dyn Optimizer<F>>,
    rng: ChaCha8Rng,
    sampler: Sampler,
    indices: Vec<usize>,
    inputs: Inputs,
    /// The batch [`step`](Self::step) fills; reused.
    batch: Option<Batch<F>>,
    eval_threads: usize,
    prefetch: bool,
    /// [`EVALS_IN_FLIGHT`]; tests lower it to make the training thread evaluate.
    evals_in_flight: usize,
    iter: usize,
}

impl<'a, F: Float> Trainer<'a, F> {
    /// Validates `config` against `data` and builds the net: a generator seeded
    /// with `config.seed` draws the initial weights, then every minibatch.
    pub fn new(config: &TrainConfig, data: TrainData<'a>) -> Result<Self> {
        Self::with_input_path(config, data, InputPath::Auto)
    }

    /// [`new`](Self::new), choosing how the first layer reads the images (both
    /// paths compute the same numbers up to float rounding).
    pub fn with_input_path(
        config: &TrainConfig,
        data: TrainData<'a>,
        input_path: InputPath,
    ) -> Result<Self> {
        config.validate()?;
        data.validate()?;
        if config.sampling == Sampling::ShuffledEpochs && config.batch_size > data.train.len() {
            return Err(TrainError::config(format!(
                "batch size {} is larger than the training set ({} examples): \
                 shuffled epochs cannot fill a batch",
                config.batch_size,
                data.train.len()
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let net = MultiLayerNet::new(
            data.input_size(),
            &config.hidden,
            data.classes,
            config.activation,
            F::of(config.weight_init_std),
            &mut rng,
        )?;
        let inputs = Inputs::new(input_path, &data)?;
        Ok(Self {
            optimizer: build_optimizer(config.optimizer, config.lr),
            sampler: Sampler::new(config.sampling, data.train.len()),
            config: config.clone(),
            data,
            net: inputs.net(net),
            rng,
            indices: Vec::with_capacity(config.batch_size),
            inputs,
            batch: None,
            eval_threads: default_eval_threads(),
            prefetch: default_eval_threads() >= 2,
            evals_in_flight: EVALS_IN_FLIGHT,
            iter: 0,
        })
    }

    /// Sets the number of threads evaluations use (default: 2, or 1 on one core).
    /// Results do not depend on it.
    pub fn with_eval_threads(mut self, threads: usize) -> Self {
        self.eval_threads = threads.max(1);
        self
    }

    /// Whether [`run`](Self::run) gathers minibatches one step ahead on a
    /// thread of its own (default: yes when there are two or more cores).
    /// Results do not depend on it.
    pub fn with_prefetch(mut self, prefetch: bool) -> Self {
        self.prefetch = prefetch;
        self
    }

    /// The input path in use: [`InputPath::Dense`] or [`InputPath::Sparse`].
    pub fn input_path(&self) -> InputPath {
        self.inputs.path()
    }

    /// A copy of the net as it is now, with the dense first layer.
    pub fn net(&self) -> MultiLayerNet<F> {
        self.net.clone().into_dense()
    }

    /// The run's settings.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Number of steps taken so far (the index of the next iteration).
    pub fn iteration(&self) -> usize {
        self.iter
    }

    /// Iterations between evaluations ([`TrainConfig::eval_every`]; by default
    /// one epoch, `max(train_size / batch_size, 1)`); 0: none but the final one.
    pub fn eval_every(&self) -> usize {
        self.config.eval_every(self.data.train.len())
    }

    /// The run's plan: iterations, evaluation schedule and split sizes.
    pub fn plan(&self) -> Plan {
        Plan {
            iters: self.config.iters,
            eval_every: self.eval_every(),
            epoch_len: self.config.epoch_len(self.data.train.len()),
            evaluations: self.config.eval_iterations(self.data.train.len()).count(),
            train_size: self.data.train.len(),
            test_size: self.data.test.len(),
        }
    }

    /// One iteration: draws a minibatch, runs backprop, updates the parameters.
    /// Returns the minibatch's loss (computed before the update).
    ///
    /// A non-finite loss stops before the update, a non-finite gradient or
    /// weight after it, with [`TrainError::Diverged`] naming the iteration.
    pub fn step(&mut self) -> Result<F> {
        self.sampler.next(
            &mut self.rng,
            self.data.train.len(),
            self.config.batch_size,
            &mut self.indices,
        );
        let mut batch = self.batch.take().unwrap_or_else(|| self.inputs.new_batch());
        let result = self
            .inputs
            .gather(&self.data.train, &self.indices, &mut batch)
            .and_then(|()| self.learn(&batch));
        self.batch = Some(batch);
        result
    }

    /// The step after drawing the batch: the book's `gradient`, then the
    /// optimizer's `update`, with the divergence checks around it.
    fn learn(&mut self, batch: &Batch<F>) -> Result<F> {
        let iter = self.iter;
        let grads = self.net.gradient(batch)?;
        let loss = grads.loss;
        if !loss.is_finite() {
            return Err(TrainError::Diverged {
                iter,
                what: format!("loss is {}", nonfinite_name(loss)),
            });
        }
        self.optimizer.update(grads.params);
        // A non-finite gradient makes its weight non-finite, so one pass over the
        // weights catches both; the gradients are looked at only to name the cause.
        let params = self.net.params();
        if let Err(weights) = check_finite(iter, &params, Check::Weights) {
            check_finite(iter, &params, Check::Gradients)?;
            return Err(weights);
        }
        self.iter += 1;
        Ok(loss)
    }

    /// Accuracy on the whole training set and on the whole test set.
    pub fn evaluate(&self) -> Result<(f64, f64)> {
        self.inputs
            .evaluate(&self.net, &self.data, self.eval_threads)
    }

    /// Runs the remaining iterations, evaluating after iteration 0 and every
    /// [`eval_every`](Self::eval_every) iterations (by default the seed's
    /// schedule: 17 evaluations for the defaults on MNIST), then evaluates the final net
    /// ([`History::final_eval`]), and returns the net and its history.
    ///
    /// With prefetching on ([`with_prefetch`](Self::with_prefetch)), a loader
    /// thread draws and gathers the minibatches ahead, the same ones `step` would,
    /// and runs each scheduled evaluation on a copy of the net between batches, so
    /// two threads share two cores (when two copies already wait there, the
    /// training thread evaluates the next one itself). Without it, evaluations run
    /// in place on [`with_eval_threads`](Self::with_eval_threads) threads. The
    /// numbers are the same either way. The observer hears of an evaluation when
    /// it is done, in order.
    pub fn run(mut self, observer: &mut dyn Observer) -> Result<Trained<F>> {
        let start = Instant::now();
        let plan = self.plan();
        observer.on_start(&plan);
        let mut history = History {
            loss: Vec::with_capacity(plan.iters.saturating_sub(self.iter)),
            ..History::default()
        };
        let (train_time, mut eval_time) = self.run_threads(&plan, &mut history, observer)?;
        if let Some(last) = self.iter.checked_sub(1) {
            history.final_eval = match history.evaluations.last() {
                Some(e) if e.iter == last => Some(*e),
                _ => {
                    history
                        .grad_norms
                        .push(GradNorms::from_params(last, &self.net.params()));
                    let t1 = Instant::now();
                    let (train_acc, test_acc) = self.evaluate()?;
                    eval_time += t1.elapsed();
                    Some(Evaluation {
                        iter: last,
                        epoch: last / plan.epoch_len,
                        train_acc,
                        test_acc,
                    })
                }
            };
        }
        history.timings = Timings {
            load_s: 0.0,
            train_s: train_time.as_secs_f64(),
            eval_s: eval_time.as_secs_f64(),
            total_s: start.elapsed().as_secs_f64(),
        };
        Ok(Trained {
            net: self.net.into_dense(),
            history,
        })
    }

    /// The loop of [`run`](Self::run): trains to `plan.iters`, evaluating on
    /// schedule, and returns the time spent training and evaluating. With a
    /// loader thread, that thread gathers the batches ahead and evaluates
    /// copies of the net between them; without one, everything runs here.
    fn run_threads(
        &mut self,
        plan: &Plan,
        history: &mut History,
        observer: &mut dyn Observer,
    ) -> Result<(Duration, Duration)> {
        let (mut train_time, mut eval_time) = (Duration::ZERO, Duration::ZERO);
        std::thread::scope(|scope| -> Result<()> {
            // Scheduled evaluations not yet recorded, in order.
            let mut order = InOrder::default();
            let mut loader = self.prefetch.then(|| {
                let job = LoaderJob {
                    inputs: self.inputs.clone(),
                    data: self.data,
                    sampler: self.sampler.clone(),
                    rng: self.rng.clone(),
                    batch_size: self.config.batch_size,
                    count: plan.iters.saturating_sub(self.iter),
                };
                Loader::spawn(scope, job)
            });
            while self.iter < plan.iters {
                let t0 = Instant::now();
                let iter = self.iter;
                let loss = match &mut loader {
                    Some(loader) => {
                        let batch = loader.next()?;
                        let loss = self.learn(&batch);
                        loader.give_back(batch);
                        loss?
                    }
                    None => self.step()?,
                }
                .to_f64_exact();
                train_time += t0.elapsed();
                history.loss.push(loss);
                observer.on_iteration(iter, loss);
                if plan.evaluates_after(iter) {
                    // Recorded here, in order, while the step's gradients are in the net.
                    history
                        .grad_norms
                        .push(GradNorms::from_params(iter, &self.net.params()));
                    match &loader {
                        // The loader thread evaluates between batches. With
                        // `EVALS_IN_FLIGHT` copies of the net waiting there, it
                        // is behind: evaluate this one here instead of waiting
                        // idle (so copies cannot pile up either).
                        Some(loader) if order.on_loader() < self.evals_in_flight => {
                            loader.evaluate(iter, self.net.clone())?;
                            order.expect_loader();
                        }
                        _ => {
                            let threads = if loader.is_some() {
                                1
                            } else {
                                self.eval_threads
                            };
                            let t = Instant::now();
                            let accs = self.inputs.evaluate(&self.net, &self.data, threads)?;
                            order.done_here(Evaluated {
                                iter,
                                accs,
                                took: t.elapsed(),
                            });
                        }
                    }
                }
                if let Some(loader) = &loader {
                    while let Some(done) = loader.try_evaluated() {
                        order.loader_done(done?);
                    }
                }
                for done in order.ready() {
                    eval_time += record(done, plan.epoch_len, history, observer);
                }
            }
            if let Some(loader) = &loader {
                while order.on_loader() > 0 {
                    order.loader_done(loader.evaluated()?);
                }
            }
            for done in order.ready() {
                eval_time += record(done, plan.epoch_len, history, observer);
            }
            Ok(())
        })?;
        Ok((train_time, eval_time))
    }
}

/// Most evaluations handed to the loader thread and not yet done: past that
/// the loader is behind, and the training thread evaluates its copy itself
/// rather than wait for it. On MNIST an epoch of training takes about as long
/// as the loader's batches for it plus an evaluation, so on a busy machine the
/// loader falls behind now and then, and waiting for it cost whole runs
/// measurably (docs/performance.md).
const EVALS_IN_FLIGHT: usize = 2;

/// Scheduled evaluations not yet recorded, in iteration order: each is done
/// (by either thread) or still on the loader thread, whose results come back
/// in the order they were asked for.
#[derive(Default)]
struct InOrder(VecDeque<Option<Evaluated>>);

impl InOrder {
    /// Evaluations still on the loader thread.
    fn on_loader(&self) -> usize {
        self.0.iter().filter(|e| e.is_none()).count()
    }

    /// The next evaluation was handed to the loader thread.
    fn expect_loader(&mut self) {
        self.0.push_back(None);
    }

    /// The next evaluation was done on the training thread.
    fn done_here(&mut self, done: Evaluated) {
        self.0.push_back(Some(done));
    }

    /// Files the loader thread's next result in the oldest slot waiting for it.
    fn loader_done(&mut self, done: Evaluated) {
        if let Some(slot) = self.0.iter_mut().find(|e| e.is_none()) {
            *slot = Some(done);
        }
    }

    /// The finished evaluations at the front, in order.
    fn ready(&mut self) -> impl Iterator<Item = Evaluated> + '_ {
        std::iter::from_fn(move || match self.0.front() {
            Some(Some(_)) => self.0.pop_front().flatten(),
            _ => None,
        })
    }
}

/// Records a finished evaluation and tells the observer; returns its time.
fn record(
    done: Evaluated,
    epoch_len: usize,
    history: &mut History,
    observer: &mut dyn Observer,
) -> Duration {
    let eval = Evaluation {
        iter: done.iter,
        epoch: done.iter / epoch_len,
        train_acc: done.accs.0,
        test_acc: done.accs.1,
    };
    history.evaluations.push(eval);
    observer.on_evaluation(&eval);
    done.took
}

#[derive(Clone, Copy)]
enum Check {
    Gradients,
    Weights,
}

/// Checks that every gradient (or weight) is finite. One sum per parameter is
/// enough: a NaN or an infinity anywhere makes the sum non-finite (an overflowing
/// sum of finite values is reported too, and is a sign of divergence as well).
fn check_finite<F: Float>(iter: usize, params: &[Param<'_, F>], check: Check) -> Result<()> {
    for p in params {
        let (array, what) = match check {
            Check::Gradients => (&p.grad, "gradient of"),
            Check::Weights => (&p.value, "weight"),
        };
        let sum = match array.as_slice() {
            Some(values) => lane_sum(values),
            None => array.sum(),
        };
        if !sum.is_finite() {
            let detail = match array.iter().find(|v| !v.is_finite()) {
                Some(&v) => format!("{what} {} contains {}", p.name, nonfinite_name(v)),
                None => format!("{what} {} overflows (sum {sum})", p.name),
            };
            return Err(TrainError::Diverged { iter, what: detail });
        }
    }
    Ok(())
}

fn nonfinite_name<F: Float>(v: F) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > F::zero() {
        "+inf"
    } else {
        "-inf"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SplitView;
    use bp_layers::Activation;

    #[test]
    fn evaluations_on_the_training_thread_give_the_same_history() {
        // 300 images of 16 pixels, a third of them zero (the sparse path).
        let images = ndarray::Array2::from_shape_fn((300, 16), |(i, j)| {
            if (i + j) % 3 == 0 {
                0
            } else {
                ((i * 7 + j * 13) % 256) as u8
            }
        });
        let labels: Vec<u8> = (0..300).map(|i| (i % 4) as u8).collect();
        let split = SplitView::new(images.view(), &labels).unwrap();
        let data = TrainData::new(split, split.slice(0, 100), 4).unwrap();
        let config = TrainConfig {
            iters: 40,
            batch_size: 50,
            hidden: vec![8],
            ..TrainConfig::default()
        };
        // An evaluation every 6 iterations; with 0 or 1 allowed on the loader
        // thread, the training thread makes all or most of them.
        let run = |evals_in_flight: usize, threads: usize| {
            let mut t = Trainer::<f32>::with_input_path(&config, data, InputPath::Sparse)
                .unwrap()
                .with_eval_threads(threads)
                .with_prefetch(threads >= 2);
            t.evals_in_flight = evals_in_flight;
            t.run(&mut ()).unwrap().history
        };
        let plain = run(EVALS_IN_FLIGHT, 1);
        assert_eq!(plain.evaluations.len(), 7);
        for evals_in_flight in [0, 1, EVALS_IN_FLIGHT] {
            let h = run(evals_in_flight, 2);
            assert_eq!(h.evaluations, plain.evaluations, "{evals_in_flight}");
            assert_eq!(h.final_eval, plain.final_eval, "{evals_in_flight}");
            assert_eq!(h.loss, plain.loss, "{evals_in_flight}");
        }
    }

    #[test]
    fn shuffled_epochs_visit_every_example_once_per_epoch() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut sampler = Sampler::new(Sampling::ShuffledEpochs, 10);
        let mut batch = Vec::new();
        for _epoch in 0..3 {
            let mut seen = Vec::new();
            // 10 examples in batches of 3: three batches, the 10th example of this
            // permutation is skipped.
            for _ in 0..3 {
                sampler.next(&mut rng, 10, 3, &mut batch);
                seen.extend_from_slice(&batch);
            }
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), 9, "no repeats within an epoch");
        }
        let mut sampler = Sampler::new(Sampling::WithReplacement, 10);
        sampler.next(&mut rng, 10, 1000, &mut batch);
        assert_eq!(batch.len(), 1000);
        assert!(batch.iter().all(|&i| i < 10));
    }

    #[test]
    fn lane_sums_add_everything() {
        let values: Vec<f64> = (0..100).map(f64::from).collect();
        assert_eq!(lane_sum(&values), 4950.0);
        assert_eq!(lane_sum(&values[..5]), 10.0);
        assert_eq!(lane_sum::<f64>(&[]), 0.0);
        let mut values: Vec<f32> = vec![1.0; 70];
        values[40] = f32::INFINITY;
        assert_eq!(lane_sum(&values), f32::INFINITY);
        values[3] = f32::NAN;
        assert!(lane_sum(&values).is_nan());
    }

    #[test]
    fn a_non_finite_weight_or_gradient_is_named() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut net =
            MultiLayerNet::<f32>::new(3, &[4], 2, Activation::Relu, 0.1, &mut rng).unwrap();
        check_finite(5, &net.params(), Check::Weights).unwrap();
        net.affines_mut()[1].b[1] = f32::NAN;
        let err = check_finite(5, &net.params(), Check::Weights).unwrap_err();
        assert_eq!(
            err.to_string(),
            "training diverged at iteration 5: weight b2 contains NaN (try a smaller learning rate)"
        );
        net.affines_mut()[1].b[1] = 0.0;
        net.affines_mut()[0].dw[[0, 0]] = f32::NEG_INFINITY;
        let err = check_finite(7, &net.params(), Check::Gradients).unwrap_err();
        assert!(
            err.to_string()
                .contains("iteration 7: gradient of W1 contains -inf"),
            "{err}"
        );
        net.affines_mut()[0].dw.fill(f32::MAX);
        let err = check_finite(8, &net.params(), Check::Gradients).unwrap_err();
        assert!(
            err.to_string().contains("gradient of W1 overflows"),
            "{err}"
        );
    }
}
