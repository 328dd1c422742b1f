//! End to end, through the real commands on the real data sets: `cargo xtask
//! train`, `gradcheck` and `eval`.
//!
//! The full default MNIST run (10000 iterations) happens once per test process;
//! the tests about its figure, its model and its metrics share it. Every other
//! run is short. Data are fetched once, by the product's own fetch, into the
//! tests' cache under cargo's target folder (never the user's `data/`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bp_tests::{assert_success, real_data, stderr, stdout, xtask};
use serde_json::Value;

/// Scratch space of these tests (cargo's per-target temporary folder).
fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e")
}

/// The data options of a command: the data set, in the tests' cache.
fn data_args(dataset: &str) -> Vec<String> {
    vec![
        "--dataset".into(),
        dataset.into(),
        "--data-dir".into(),
        real_data(dataset).display().to_string(),
    ]
}

/// A fresh, empty output directory under the scratch space, removed when dropped.
fn fresh_dir(name: &str) -> tempfile::TempDir {
    std::fs::create_dir_all(scratch()).expect("create the scratch directory");
    tempfile::Builder::new()
        .prefix(&format!("{name}-"))
        .tempdir_in(scratch())
        .expect("create a scratch directory")
}

/// `cargo xtask train` with data options for `dataset`, output in `out` and `extra` options.
fn train(dataset: &str, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = vec!["train".into(), "--quiet".into()];
    args.extend(data_args(dataset));
    args.extend(["--out".into(), out.display().to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    xtask(&args)
}

fn read_metrics(out: &Path) -> Value {
    let path = out.join("metrics.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn accuracies(metrics: &Value, key: &str) -> Vec<f64> {
    metrics["evaluations"]
        .as_array()
        .expect("evaluations")
        .iter()
        .map(|e| e[key].as_f64().expect("an accuracy"))
        .collect()
}

/// The full default MNIST run: its output directory and its standard output.
struct FullRun {
    out: PathBuf,
    stdout: String,
}

fn full_run() -> &'static FullRun {
    static RUN: OnceLock<FullRun> = OnceLock::new();
    RUN.get_or_init(|| {
        // A fixed directory (a static is never dropped, so a TempDir would stay behind).
        let out = scratch().join("full-default-mnist");
        let _ = std::fs::remove_dir_all(&out);
        let o = train("mnist", &out, &[]);
        assert_success("the default MNIST run", &o);
        FullRun {
            out,
            stdout: stdout(&o),
        }
    })
}

#[test]
fn default_mnist_run_reaches_the_seeds_accuracy_with_17_evaluations() {
    let run = full_run();
    let m = read_metrics(&run.out);
    let evals = m["evaluations"].as_array().expect("evaluations");
    assert_eq!(
        evals.len(),
        17,
        "17 evaluations: iterations 0, 600, ..., 9600"
    );
    for (k, e) in evals.iter().enumerate() {
        assert_eq!(e["iter"].as_u64(), Some(600 * k as u64));
        assert_eq!(e["epoch"].as_u64(), Some(k as u64));
    }
    let final_acc = m["final_test_acc"].as_f64().expect("final_test_acc");
    assert!(
        final_acc >= 0.965,
        "final test accuracy {final_acc} < 0.965"
    );
    assert_eq!(m["dataset"], "mnist");
    assert_eq!(m["seed"], 0);
    assert_eq!(m["config"]["iters"], 10_000);
    assert_eq!(m["config"]["batch_size"], 100);
    assert_eq!(m["loss"].as_array().map(Vec::len), Some(10_000));
    for key in ["load_s", "train_s", "eval_s", "total_s"] {
        assert!(m["timings"][key].as_f64().is_some(), "timings.{key}");
    }
    // One line per evaluation on standard output, and the paths written.
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("epoch "))
        .collect();
    assert_eq!(lines.len(), 17, "{}", run.stdout);
    assert!(
        lines[3].starts_with("epoch 3  iter 1800  train acc 0."),
        "{}",
        lines[3]
    );
    for name in [
        "metrics.json",
        "accuracy.png",
        "accuracy.svg",
        "loss.png",
        "model.safetensors",
    ] {
        let path = run.out.join(name);
        assert!(path.is_file(), "{} missing", path.display());
        assert!(
            run.stdout.contains(&path.display().to_string()),
            "path of {name} printed"
        );
    }
}

#[test]
fn accuracy_png_shows_both_series() {
    let run = full_run();
    let path = run.out.join("accuracy.png");
    let file = std::fs::File::open(&path).expect("open accuracy.png");
    let mut reader = png::Decoder::new(file).read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG pixels");
    assert_eq!((info.width, info.height), bp_plot::DEFAULT_SIZE);
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected colour type {other:?}"),
    };
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let pixels = &buf[..info.buffer_size()];
    let count = |c: (u8, u8, u8)| {
        pixels
            .chunks_exact(channels)
            .filter(|p| (p[0], p[1], p[2]) == c)
            .count()
    };
    let (train, test) = (bp_plot::TRAIN_COLOR, bp_plot::TEST_COLOR);
    let train_px = count((train.0, train.1, train.2));
    let test_px = count((test.0, test.1, test.2));
    assert!(train_px > 100, "{train_px} pixels of the train colour");
    assert!(test_px > 100, "{test_px} pixels of the test colour");
    let non_white = pixels
        .chunks_exact(channels)
        .filter(|p| (p[0], p[1], p[2]) != (255, 255, 255))
        .count();
    assert!(
        non_white > 1000,
        "the image is not blank ({non_white} non-white pixels)"
    );
}

#[test]
fn saved_model_evaluates_to_the_accuracy_in_metrics() {
    let run = full_run();
    let m = read_metrics(&run.out);
    let expected = m["final_test_acc"].as_f64().expect("final_test_acc");
    let mut args = vec![
        "eval".to_string(),
        "--model".into(),
        run.out.join("model.safetensors").display().to_string(),
    ];
    args.extend(data_args("mnist"));
    let o = xtask(&args);
    assert_success("eval", &o);
    let text = stdout(&o);
    let line = text
        .lines()
        .find(|l| l.contains("test accuracy"))
        .unwrap_or_else(|| panic!("no accuracy line in:\n{text}"));
    // "MNIST test accuracy 0.9708 (9708 of 10000 correct)"
    let correct: u64 = line
        .split('(')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("cannot parse {line:?}"));
    assert_eq!(correct as f64 / 10_000.0, expected, "{line}");
    // The 10x10 confusion matrix: a header, a rule and one row per class, each
    // row summing to that class's test count.
    let rows: Vec<Vec<u64>> = text
        .lines()
        .filter_map(|l| {
            let (label, counts) = l.split_once('|')?;
            label.trim().parse::<usize>().ok()?;
            Some(
                counts
                    .split_whitespace()
                    .map(|n| n.parse().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 10, "{text}");
    let sums: Vec<u64> = rows.iter().map(|r| r.iter().sum()).collect();
    assert_eq!(
        sums,
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert!(rows.iter().all(|r| r.len() == 10));
}

#[test]
fn short_fashion_mnist_run() {
    let dir = fresh_dir("fashion-short");
    let out = dir.path();
    let o = train("fashion-mnist", out, &["--iters", "1200"]);
    assert_success("the Fashion-MNIST run", &o);
    let m = read_metrics(out);
    assert_eq!(m["dataset"], "fashion-mnist");
    assert_eq!(accuracies(&m, "test_acc").len(), 2, "iterations 0 and 600");
    let acc = m["final_test_acc"].as_f64().expect("final_test_acc");
    assert!(
        acc > 0.7,
        "Fashion-MNIST test accuracy after 1200 iterations: {acc}"
    );
    assert!(out.join("accuracy.png").is_file() && out.join("model.safetensors").is_file());
}

#[test]
fn gradcheck_passes() {
    let mut args = vec!["gradcheck".to_string()];
    args.extend(data_args("mnist"));
    let o = xtask(&args);
    assert_success("gradcheck", &o);
    let text = stdout(&o);
    for name in ["W1", "b1", "W2", "b2"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no line for {name} in:\n{text}"));
        let diff: f64 = line[name.len() + 2..]
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert!(diff <= 1e-7, "{line}");
    }
}

#[test]
fn the_same_seed_gives_the_same_accuracies() {
    // The second run repeats the first; the fourth evaluates only its final
    // net: the same numbers.
    let runs: Vec<Value> = [
        ("a", "7", &[][..]),
        ("b", "7", &[][..]),
        ("c", "8", &[][..]),
        ("d", "7", &["--eval-every", "0"][..]),
    ]
    .iter()
    .map(|&(name, seed, extra)| {
        let dir = fresh_dir(&format!("seed-{name}"));
        let mut args = vec!["--iters", "1300", "--seed", seed];
        args.extend(extra);
        let o = train("mnist", dir.path(), &args);
        assert_success("a short run", &o);
        let plotted = dir.path().join("accuracy.png").is_file();
        assert_eq!(plotted, extra.is_empty() || name == "b", "{name}");
        read_metrics(dir.path())
    })
    .collect();
    for key in ["train_acc", "test_acc"] {
        assert_eq!(accuracies(&runs[0], key).len(), 3);
        assert_eq!(
            accuracies(&runs[0], key),
            accuracies(&runs[1], key),
            "{key}"
        );
    }
    assert_eq!(runs[0]["final_test_acc"], runs[1]["final_test_acc"]);
    assert_eq!(runs[0]["loss"], runs[1]["loss"]);
    assert_ne!(
        runs[0]["loss"], runs[2]["loss"],
        "another seed, another run"
    );
    assert_eq!(runs[3]["evaluations"], serde_json::json!([]));
    assert_eq!(runs[3]["eval_every"], 0);
    assert_eq!(runs[0]["final"], runs[3]["final"]);
    assert_eq!(runs[0]["loss"], runs[3]["loss"]);
}

#[test]
fn a_divergent_run_exits_1_naming_the_iteration() {
    let dir = fresh_dir("diverge");
    let out = dir.path();
    let o = train("mnist", out, &["--lr", "1e30", "--iters", "300"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("diverged at iteration "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !out.join("metrics.json").exists(),
        "nothing is written from NaN"
    );
    assert!(
        !out.join("accuracy.png").exists(),
        "nothing is plotted from NaN"
    );
}

/// Asserts one clear error message, no panic, and the exit code.
fn assert_clean_failure(what: &str, o: &std::process::Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(err.contains("error:"), "{what}: {err}");
    assert!(err.contains(needle), "{what}: expected {needle:?} in {err}");
}

#[test]
fn invalid_options_exit_1_with_a_message() {
    let dir = fresh_dir("invalid");
    let out = dir.path();
    let cases: [(&[&str], &str); 8] = [
        (&["--batch-size", "0"], "batch size"),
        (&["--lr", "0"], "learning rate"),
        (&["--lr", "-0.5"], "learning rate"),
        (&["--hidden", "50,0"], "hidden layer sizes"),
        (&["--iters", "0"], "iters"),
        (
            &["--activation", "tanh"],
            "[possible values: relu, sigmoid]",
        ),
        (
            &["--optimizer", "rmsprop"],
            "[possible values: sgd, momentum, adam]",
        ),
        (&["--precision", "f16"], "[possible values: f32, f64]"),
    ];
    for (args, needle) in cases {
        let o = train("mnist", out, args);
        assert_clean_failure(&format!("train {args:?}"), &o, 1, needle);
    }
    // Values clap itself rejects while parsing give one clear message and exit 1 too.
    let o = xtask(&[
        "train",
        "--dataset",
        "cifar",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure("train --dataset cifar", &o, 1, "unknown data set");
    let o = xtask(&[
        "train",
        "--batch-size",
        "abc",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure("train --batch-size abc", &o, 1, "invalid value");
    let o = xtask(&[
        "train",
        "--input-path",
        "gpu",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure(
        "train --input-path gpu",
        &o,
        1,
        "[possible values: auto, dense, sparse]",
    );

    let missing = out.join("no-such-model.safetensors");
    let o = xtask(&["eval", "--model", missing.to_str().unwrap()]);
    assert_clean_failure(
        "eval of a missing model",
        &o,
        1,
        "no-such-model.safetensors",
    );
    let junk = out.join("junk.safetensors");
    std::fs::write(&junk, b"not a model").unwrap();
    let o = xtask(&["eval", "--model", junk.to_str().unwrap()]);
    assert_clean_failure(
        "eval of a junk model",
        &o,
        1,
        "not a valid safetensors file",
    );
}

/// The xtask program `cargo xtask` builds: `<target dir>/release/xtask`.
fn xtask_program() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is inside the target directory");
    target
        .join("release")
        .join(format!("xtask{}", std::env::consts::EXE_SUFFIX))
}

#[test]
fn bench_against_another_build_reports_both_medians_and_their_ratios() {
    let mut args: Vec<String> = [
        "bench",
        "--runs",
        "1",
        "--warmup",
        "0",
        "--json",
        "--eval-cost",
        "--against",
    ]
    .map(String::from)
    .to_vec();
    // `cargo xtask` builds the program before running it, so it exists by the
    // time `bench` looks for it; here it is compared with itself.
    args.push(xtask_program().display().to_string());
    args.extend(["--".into(), "--iters".into(), "20".into()]);
    args.extend(data_args("mnist"));
    let o = xtask(&args);
    assert_success("bench --against", &o);
    let v: Value = serde_json::from_str(stdout(&o).trim()).expect("one JSON object");
    for side in ["this", "against"] {
        assert_eq!(v[side]["runs"], 1, "{v}");
        let wall = v[side]["median_wall_s"].as_f64().expect("a wall time");
        assert!(wall > 0.0, "{v}");
    }
    // The same program and seed on both sides: the same accuracy.
    let acc = v["this"]["median_final_test_acc"]
        .as_f64()
        .expect("an accuracy");
    assert!(acc > 0.0 && acc <= 1.0, "{v}");
    assert_eq!(acc, v["against"]["median_final_test_acc"].as_f64().unwrap());
    let whole = v["ratios"]["whole"].as_f64().expect("a ratio");
    let expected = v["against"]["median_wall_s"].as_f64().unwrap()
        / v["this"]["median_wall_s"].as_f64().unwrap();
    assert!((whole - expected).abs() < 1e-12, "{v}");
    // --eval-cost: the same build without scheduled evaluations, and the difference.
    let no_eval = &v["without_evaluations"];
    assert_eq!(no_eval["runs"], 1, "{v}");
    let cost = v["eval_cost_s"].as_f64().expect("an evaluation cost");
    let expected =
        v["this"]["median_wall_s"].as_f64().unwrap() - no_eval["median_wall_s"].as_f64().unwrap();
    assert!((cost - expected).abs() < 1e-12, "{v}");

    let o = xtask(&["bench", "--runs", "1", "--against", "/no/such/xtask"]);
    assert_clean_failure(
        "bench --against a missing program",
        &o,
        1,
        "no such program",
    );
}
