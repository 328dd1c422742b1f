//! The training loop through the public API: schedule, reproducibility,
//! divergence, observers, and every optimizer, activation and precision learning.

mod common;

use bp_train::{
    train, Activation, Evaluation, GradNorms, Observer, OptimizerKind, Plan, Sampling, TrainConfig,
    TrainError, Trainer,
};
use common::{data, train_test};

/// A small recipe for the synthetic set: 600 examples, batch 10, so an epoch is
/// 60 iterations.
fn small_config() -> TrainConfig {
    TrainConfig {
        iters: 600,
        batch_size: 10,
        hidden: vec![16],
        weight_init_std: 0.1,
        ..TrainConfig::default()
    }
}

#[test]
fn the_seeds_schedule_gives_17_evaluations() {
    // 1000 iterations with an epoch of 60 mirror 10000 with an epoch of 600.
    let (tr, te) = train_test(600);
    let config = TrainConfig {
        iters: 1000,
        ..small_config()
    };
    let d = data(&tr, &te);
    let trained = train::<f32>(&config, &d, &mut ()).unwrap();
    let h = &trained.history;
    let iters: Vec<usize> = h.evaluations.iter().map(|e| e.iter).collect();
    assert_eq!(iters, (0..=960).step_by(60).collect::<Vec<_>>());
    let epochs: Vec<usize> = h.evaluations.iter().map(|e| e.epoch).collect();
    assert_eq!(epochs, (0..17).collect::<Vec<_>>());
    assert_eq!(h.loss.len(), 1000);
    // Evaluations may run beside the training loop, so only each part is bounded.
    assert!(h.timings.total_s >= h.timings.train_s && h.timings.total_s >= h.timings.eval_s);
    assert!(h.timings.train_s > 0.0 && h.timings.eval_s > 0.0);
    // The final evaluation is of the returned net, after the last iteration.
    let fin = h.final_eval.unwrap();
    assert_eq!((fin.iter, fin.epoch), (999, 16));
    let test_acc = bp_train::accuracy(&trained.net, &d.test, common::CLASSES, 1).unwrap();
    assert_eq!(h.final_test_acc(), Some(test_acc));
    // When the last iteration is an evaluation's, that evaluation is the final one.
    let config = TrainConfig {
        iters: 61,
        ..small_config()
    };
    let h = train::<f32>(&config, &d, &mut ()).unwrap().history;
    assert_eq!(h.evaluations.len(), 2);
    assert_eq!(h.final_eval, h.evaluations.last().copied());
}

#[test]
fn sgd_learns_and_the_loss_falls() {
    let (tr, te) = train_test(600);
    let h = train::<f32>(&small_config(), &data(&tr, &te), &mut ())
        .unwrap()
        .history;
    let first = h.evaluations[0].test_acc;
    let last = h.final_test_acc().unwrap();
    assert!(last > 0.9, "final test accuracy {last} (first {first})");
    let early: f64 = h.loss[..50].iter().sum::<f64>() / 50.0;
    let late: f64 = h.loss[h.loss.len() - 50..].iter().sum::<f64>() / 50.0;
    assert!(late < early / 2.0, "loss {early} -> {late}");
    assert!(h.loss.iter().all(|l| l.is_finite()));
}

#[test]
fn momentum_adam_sigmoid_f64_and_epochs_all_learn() {
    let (tr, te) = train_test(600);
    let d = data(&tr, &te);
    let variants = [
        (
            "momentum",
            TrainConfig {
                optimizer: OptimizerKind::MOMENTUM,
                lr: 0.01,
                ..small_config()
            },
        ),
        (
            "adam",
            TrainConfig {
                optimizer: OptimizerKind::ADAM,
                lr: 0.01,
                ..small_config()
            },
        ),
        (
            "sigmoid",
            TrainConfig {
                activation: Activation::Sigmoid,
                lr: 0.5,
                weight_init_std: 1.0,
                ..small_config()
            },
        ),
        (
            "two hidden layers",
            TrainConfig {
                hidden: vec![16, 8],
                ..small_config()
            },
        ),
        (
            "shuffled epochs",
            TrainConfig {
                sampling: Sampling::ShuffledEpochs,
                ..small_config()
            },
        ),
    ];
    for (name, config) in variants {
        let acc = train::<f32>(&config, &d, &mut ())
            .unwrap()
            .history
            .final_test_acc()
            .unwrap();
        assert!(acc > 0.9, "{name}: final test accuracy {acc}");
    }
    let acc = train::<f64>(&small_config(), &d, &mut ())
        .unwrap()
        .history
        .final_test_acc()
        .unwrap();
    assert!(acc > 0.9, "f64: final test accuracy {acc}");
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_does_not() {
    let (tr, te) = train_test(600);
    let d = data(&tr, &te);
    let config = TrainConfig {
        iters: 200,
        ..small_config()
    };
    for sampling in [Sampling::WithReplacement, Sampling::ShuffledEpochs] {
        let config = TrainConfig {
            sampling,
            ..config.clone()
        };
        let a = train::<f32>(&config, &d, &mut ()).unwrap();
        let b = train::<f32>(&config, &d, &mut ()).unwrap();
        assert_eq!(a.history.loss, b.history.loss, "{sampling}");
        assert_eq!(a.history.evaluations, b.history.evaluations, "{sampling}");
        assert_eq!(a.net.affines()[0].w, b.net.affines()[0].w, "{sampling}");
        let c = train::<f32>(
            &TrainConfig {
                seed: 1,
                ..config.clone()
            },
            &d,
            &mut (),
        )
        .unwrap();
        assert_ne!(a.history.loss, c.history.loss, "{sampling}");
    }
}

#[test]
fn threads_do_not_change_results() {
    use bp_train::{InputPath, Sampling};
    let (mut tr, mut te) = train_test(2500);
    for set in [&mut tr, &mut te] {
        set.images.mapv_inplace(|v| if v < 150 { 0 } else { v });
    }
    let d = data(&tr, &te);
    for sampling in [Sampling::WithReplacement, Sampling::ShuffledEpochs] {
        // Batches of 500: an evaluation every 5 iterations, so several wait
        // their turn on the loader thread at once.
        for (path, batch_size) in [
            (InputPath::Dense, 100),
            (InputPath::Sparse, 100),
            (InputPath::Sparse, 500),
        ] {
            let config = TrainConfig {
                iters: 30,
                batch_size,
                sampling,
                ..small_config()
            };
            let run = |eval_threads: usize, prefetch: bool| {
                Trainer::<f32>::with_input_path(&config, d, path)
                    .unwrap()
                    .with_eval_threads(eval_threads)
                    .with_prefetch(prefetch)
                    .run(&mut ())
                    .unwrap()
                    .history
            };
            let (plain, threaded) = (run(1, false), run(3, true));
            assert_eq!(plain.evaluations, threaded.evaluations, "{path} {sampling}");
            assert_eq!(plain.final_eval, threaded.final_eval, "{path} {sampling}");
            assert_eq!(plain.grad_norms, threaded.grad_norms, "{path} {sampling}");
            let every = 2500 / batch_size;
            assert_eq!(threaded.evaluations.len(), 29 / every + 1);
            assert_eq!(plain.loss, threaded.loss, "{path} {sampling}");
            // Prefetching and step-by-step agree too.
            let mut t = Trainer::<f32>::with_input_path(&config, d, path).unwrap();
            let steps: Vec<f64> = (0..30).map(|_| f64::from(t.step().unwrap())).collect();
            assert_eq!(steps, threaded.loss, "{path} {sampling}");
        }
    }
}

#[test]
fn the_sparse_path_stops_on_divergence_with_the_iteration_named() {
    use bp_train::InputPath;
    let (tr, te) = train_test(600);
    let config = TrainConfig {
        lr: 1e30,
        ..small_config()
    };
    let mut recorder = Recorder::default();
    let err = Trainer::<f32>::with_input_path(&config, data(&tr, &te), InputPath::Sparse)
        .unwrap()
        .run(&mut recorder)
        .map(|_| ())
        .unwrap_err();
    let TrainError::Diverged { iter, .. } = err else {
        panic!("expected divergence, got {err}");
    };
    assert!(iter < 10, "diverged only at {iter}");
    // Every iteration before the failing one was reported.
    assert_eq!(recorder.iterations.len(), iter);

    // 1e39 is infinite in f32: the first update makes W1 non-finite, and the
    // error says so, as on the dense path.
    let config = TrainConfig {
        lr: 1e39,
        ..config.clone()
    };
    let run = |path| {
        Trainer::<f32>::with_input_path(&config, data(&tr, &te), path)
            .unwrap()
            .run(&mut ())
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let (sparse, dense) = (run(InputPath::Sparse), run(InputPath::Dense));
    assert!(sparse.contains("iteration 0: weight W1"), "{sparse}");
    assert_eq!(sparse, dense);
}

#[test]
fn a_huge_learning_rate_diverges_with_the_iteration_named() {
    let (tr, te) = train_test(600);
    let config = TrainConfig {
        lr: 1e30,
        ..small_config()
    };
    for result in [
        train::<f32>(&config, &data(&tr, &te), &mut ()).map(|_| ()),
        train::<f64>(
            &TrainConfig {
                lr: 1e300,
                ..config.clone()
            },
            &data(&tr, &te),
            &mut (),
        )
        .map(|_| ()),
    ] {
        let err = result.unwrap_err();
        let TrainError::Diverged { iter, ref what } = err else {
            panic!("expected divergence, got {err}");
        };
        assert!(iter < 10, "diverged only at {iter}: {what}");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("iteration {iter}")),
            "message names the iteration: {msg}"
        );
    }
}

#[derive(Default)]
struct Recorder {
    plan: Option<Plan>,
    iterations: Vec<(usize, f64)>,
    evaluations: Vec<Evaluation>,
}

impl Observer for Recorder {
    fn on_start(&mut self, plan: &Plan) {
        self.plan = Some(*plan);
    }
    fn on_iteration(&mut self, iter: usize, loss: f64) {
        self.iterations.push((iter, loss));
    }
    fn on_evaluation(&mut self, eval: &Evaluation) {
        self.evaluations.push(*eval);
    }
}

#[test]
fn the_observer_sees_every_iteration_and_evaluation() {
    let (tr, te) = train_test(600);
    let config = TrainConfig {
        iters: 130,
        ..small_config()
    };
    let mut rec = Recorder::default();
    let h = train::<f32>(&config, &data(&tr, &te), &mut rec)
        .unwrap()
        .history;
    let plan = rec.plan.unwrap();
    assert_eq!(
        (
            plan.iters,
            plan.eval_every,
            plan.evaluations,
            plan.train_size,
            plan.test_size
        ),
        (130, 60, 3, 600, 200)
    );
    assert_eq!(rec.iterations.len(), 130);
    assert!(rec
        .iterations
        .iter()
        .enumerate()
        .all(|(i, &(it, _))| i == it));
    let losses: Vec<f64> = rec.iterations.iter().map(|&(_, l)| l).collect();
    assert_eq!(losses, h.loss);
    assert_eq!(rec.evaluations, h.evaluations);
}

#[test]
fn step_by_step_matches_run() {
    let (tr, te) = train_test(600);
    let d = data(&tr, &te);
    let config = TrainConfig {
        iters: 61,
        ..small_config()
    };
    let run = train::<f32>(&config, &d, &mut ()).unwrap();
    let mut t = Trainer::<f32>::new(&config, d).unwrap();
    let mut losses = Vec::new();
    for _ in 0..61 {
        losses.push(f64::from(t.step().unwrap()));
    }
    assert_eq!(t.iteration(), 61);
    assert_eq!(losses, run.history.loss);
    let (train_acc, test_acc) = t.evaluate().unwrap();
    assert!((0.0..=1.0).contains(&train_acc) && (0.0..=1.0).contains(&test_acc));
    assert_eq!(t.net().affines()[1].w, run.net.affines()[1].w);
}

#[test]
fn gradient_norms_are_those_of_the_step_before_each_evaluation() {
    let (tr, te) = train_test(600);
    let d = data(&tr, &te);
    // Evaluations after iterations 0, 60 and 120, then the final net's (130).
    let config = TrainConfig {
        iters: 131,
        ..small_config()
    };
    let run = train::<f32>(&config, &d, &mut ()).unwrap();
    let h = &run.history;
    let iters: Vec<usize> = h.grad_norms.iter().map(|g| g.iter).collect();
    assert_eq!(iters, [0, 60, 120, 130]);
    let mut t = Trainer::<f32>::new(&config, d).unwrap();
    for expected in &h.grad_norms {
        while t.iteration() <= expected.iter {
            t.step().unwrap();
        }
        let net = t.net();
        let now = GradNorms::of(expected.iter, &net);
        assert_eq!(&now, expected);
        // The norm is the plain L2 norm of the gradient.
        let db2 = &net.affines()[1].db;
        let l2 = db2
            .iter()
            .map(|&g| f64::from(g).powi(2))
            .sum::<f64>()
            .sqrt();
        assert_eq!(now.get("b2"), Some(l2));
    }
    let series = h.grad_norm_series();
    let names: Vec<&str> = series.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["W1", "b1", "W2", "b2"]);
    for (name, values) in &series {
        assert_eq!(values.len(), 4, "{name}");
        assert!(
            values.iter().all(|v| v.is_finite() && *v > 0.0),
            "{name}: {values:?}"
        );
    }
    // A history written before gradient norms were recorded still reads.
    let old = r#"{"loss":[2.3],"evaluations":[{"iter":0,"epoch":0,"train_acc":0.1,"test_acc":0.1}],
        "final_eval":null,"timings":{"load_s":0,"train_s":0,"eval_s":0,"total_s":0}}"#;
    let old: bp_train::History = serde_json::from_str(old).unwrap();
    assert!(old.grad_norms.is_empty() && old.grad_norm_series().is_empty());
    assert_eq!(old.evaluations.len(), 1);
}

#[test]
fn predictions_agree_with_the_confusion_matrix() {
    let (tr, te) = train_test(2500);
    let d = data(&tr, &te);
    let net = train::<f32>(&small_config(), &d, &mut ()).unwrap().net;
    let one = bp_train::predictions(&net, &d.test, 1).unwrap();
    assert_eq!(one, bp_train::predictions(&net, &d.test, 3).unwrap());
    assert_eq!(one.len(), d.test.len());
    let mut cm = bp_train::ConfusionMatrix::new(common::CLASSES);
    for (&label, &p) in d.test.labels.iter().zip(&one) {
        cm.add(usize::from(label), p).unwrap();
    }
    assert_eq!(
        cm,
        bp_train::confusion_matrix(&net, &d.test, common::CLASSES, 2).unwrap()
    );
    // A model for other images is an error, not a panic.
    let other = ndarray::Array2::<u8>::zeros((3, 5));
    let split = bp_train::SplitView::new(other.view(), &[0, 1, 2]).unwrap();
    assert!(bp_train::predictions(&net, &split, 1).is_err());
}

#[test]
fn invalid_settings_are_errors_not_panics() {
    let (tr, te) = train_test(60);
    let d = data(&tr, &te);
    let bad = [
        TrainConfig {
            batch_size: 0,
            ..small_config()
        },
        TrainConfig {
            lr: -0.1,
            ..small_config()
        },
        TrainConfig {
            hidden: vec![0],
            ..small_config()
        },
        TrainConfig {
            sampling: Sampling::ShuffledEpochs,
            batch_size: 61,
            ..small_config()
        },
    ];
    for config in bad {
        let err = Trainer::<f32>::new(&config, d).err().expect("an error");
        assert!(matches!(err, TrainError::Config(_)), "{err}");
    }
    // With replacement, a batch larger than the set is fine (the seed allows it).
    let config = TrainConfig {
        iters: 3,
        batch_size: 100,
        ..small_config()
    };
    let h = train::<f32>(&config, &d, &mut ()).unwrap().history;
    assert_eq!(h.evaluations.len(), 3, "eval_every = max(60 / 100, 1) = 1");
}

#[test]
fn the_sparse_and_dense_paths_train_the_same_net() {
    use bp_train::InputPath;
    // Zero out the dim pixels so the set is sparse, like MNIST.
    let (mut tr, mut te) = train_test(600);
    for set in [&mut tr, &mut te] {
        set.images.mapv_inplace(|v| if v < 150 { 0 } else { v });
    }
    let d = data(&tr, &te);
    assert!(bp_train::density(d.train.images) < bp_train::SPARSE_MAX_DENSITY);
    let config = TrainConfig {
        iters: 200,
        ..small_config()
    };
    let run = |path: InputPath| {
        let trainer = Trainer::<f64>::with_input_path(&config, d, path).unwrap();
        assert_eq!(trainer.input_path(), path);
        trainer.run(&mut ()).unwrap().history
    };
    let (dense, sparse) = (run(InputPath::Dense), run(InputPath::Sparse));
    assert_eq!(dense.evaluations, sparse.evaluations);
    for (i, (a, b)) in dense.loss.iter().zip(&sparse.loss).enumerate() {
        assert!((a - b).abs() < 1e-9, "iteration {i}: {a} vs {b}");
    }
    // Auto picks sparse for this set, dense for the unmodified (dense) one.
    let auto = Trainer::<f32>::new(&config, d).unwrap();
    assert_eq!(auto.input_path(), InputPath::Sparse);
    let (tr, te) = train_test(600);
    let auto = Trainer::<f32>::new(&config, data(&tr, &te)).unwrap();
    assert_eq!(auto.input_path(), InputPath::Dense);
}

#[test]
fn run_config_runs_the_trainer_in_the_precision_it_names() {
    use bp_train::{run, InputPath, Precision, RunConfig, TrainedNet};
    let (tr, te) = train_test(600);
    let d = data(&tr, &te);
    let config = TrainConfig {
        iters: 130,
        ..small_config()
    };
    let f32_run = train::<f32>(&config, &d, &mut ()).unwrap();
    let f64_run = train::<f64>(&config, &d, &mut ()).unwrap();
    for (precision, want) in [
        (
            Precision::F32,
            (&f32_run.history.loss, &f32_run.history.evaluations),
        ),
        (
            Precision::F64,
            (&f64_run.history.loss, &f64_run.history.evaluations),
        ),
    ] {
        let run_config = RunConfig::new(config.clone())
            .with_precision(precision)
            .with_input_path(InputPath::Dense);
        let out = run(&run_config, d, &mut ()).unwrap();
        assert_eq!(out.net.precision(), precision);
        assert_eq!(out.input_path, InputPath::Dense);
        assert_eq!((&out.history.loss, &out.history.evaluations), want);
        match (&out.net, precision) {
            (TrainedNet::F32(net), Precision::F32) => {
                assert_eq!(net.params()[0].value, f32_run.net.params()[0].value)
            }
            (TrainedNet::F64(net), Precision::F64) => {
                assert_eq!(net.params()[0].value, f64_run.net.params()[0].value)
            }
            _ => panic!("{precision} run returned a {} net", out.net.precision()),
        }
    }
    // The schedule set on the run config is the one the run follows.
    let every = RunConfig::new(config).with_eval_every(Some(13));
    let out = run(&every, d, &mut ()).unwrap();
    let iters: Vec<usize> = out.history.evaluations.iter().map(|e| e.iter).collect();
    assert_eq!(iters, (0..130).step_by(13).collect::<Vec<_>>());
}
