//! `cargo xtask bench`: times the whole default training job, as separate
//! processes, and reports medians.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};

/// Options of `bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// How many whole runs to time (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Options passed on to `train` (after `--`), e.g. `-- --dataset fashion-mnist`.
    #[arg(last = true)]
    train_args: Vec<String>,
}

/// What one run reported in its metrics.json, plus its wall time.
#[derive(Debug, Clone, Copy)]
struct Run {
    wall_s: f64,
    load_s: f64,
    train_s: f64,
    eval_s: f64,
    iters: f64,
    evaluations: f64,
    train_size: f64,
    test_size: f64,
    flops_per_iter: f64,
    flops_per_example: f64,
    peak_rss_mb: f64,
    final_test_acc: f64,
}

/// Runs `bench`.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let exe = std::env::current_exe().context("cannot find the xtask executable")?;
    let out = std::env::temp_dir().join(format!("bp-bench-{}", std::process::id()));
    let mut runs = Vec::with_capacity(args.runs);
    for i in 0..args.runs {
        let dir = out.join(format!("run{i}"));
        let t = Instant::now();
        let status = Command::new(&exe)
            .arg("train")
            .arg("--quiet")
            .arg("--out")
            .arg(&dir)
            .args(&args.train_args)
            .stdout(std::process::Stdio::null())
            .status()
            .context("cannot start the training run")?;
        let wall_s = t.elapsed().as_secs_f64();
        if !status.success() {
            bail!("training run {} failed ({status})", i + 1);
        }
        let run = read_run(&dir.join("metrics.json"), wall_s)?;
        if !args.json {
            eprintln!(
                "run {}/{}: {:.2} s (train {:.2} s, eval {:.2} s), test acc {:.4}",
                i + 1,
                args.runs,
                run.wall_s,
                run.train_s,
                run.eval_s,
                run.final_test_acc
            );
        }
        runs.push(run);
    }
    // Best effort: the runs' outputs are only needed for the numbers above.
    let _ = std::fs::remove_dir_all(&out);
    let split_steps = args.train_args.iter().any(|a| a == "--split-steps");
    report(&runs, args.json, split_steps);
    Ok(())
}

fn read_run(path: &Path, wall_s: f64) -> anyhow::Result<Run> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let m: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))?;
    let num = |ptr: &str| -> anyhow::Result<f64> {
        m.pointer(ptr)
            .and_then(serde_json::Value::as_f64)
            .with_context(|| format!("{} has no number at {ptr}", path.display()))
    };
    let sizes: Vec<f64> = m
        .pointer("/layer_sizes")
        .and_then(serde_json::Value::as_array)
        .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
        .with_context(|| format!("{} has no layer_sizes", path.display()))?;
    let batch = num("/config/batch_size")?;
    // Dense multiply-adds of one example: forward x W for every layer; backward
    // dW for every layer and dX for all but the first.
    let forward: f64 = sizes.windows(2).map(|w| 2.0 * w[0] * w[1]).sum();
    let backward: f64 = forward + forward - 2.0 * sizes[0] * sizes[1];
    Ok(Run {
        wall_s,
        load_s: num("/timings/load_s")?,
        train_s: num("/timings/train_s")?,
        eval_s: num("/timings/eval_s")?,
        iters: num("/config/iters")?,
        evaluations: m
            .pointer("/evaluations")
            .and_then(serde_json::Value::as_array)
            .map_or(0, Vec::len) as f64,
        train_size: num("/train_size")?,
        test_size: num("/test_size")?,
        flops_per_iter: batch * (forward + backward),
        flops_per_example: forward,
        peak_rss_mb: num("/peak_rss_bytes").map_or(f64::NAN, |b| b / 1e6),
        final_test_acc: num("/final_test_acc")?,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn report(runs: &[Run], json: bool, split_steps: bool) {
    let med = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
    let r = runs[0];
    let (wall, load, train, eval) = (
        med(|r| r.wall_s),
        med(|r| r.load_s),
        med(|r| r.train_s),
        med(|r| r.eval_s),
    );
    let us_per_iter = train / r.iters * 1e6;
    let train_gflop = r.flops_per_iter * r.iters / 1e9;
    let eval_gflop = r.flops_per_example * (r.train_size + r.test_size) * r.evaluations / 1e9;
    let peak = med(|r| r.peak_rss_mb);
    let acc = med(|r| r.final_test_acc);
    if json {
        let v = serde_json::json!({
            "runs": runs.len(),
            "median_wall_s": wall,
            "median_load_s": load,
            "median_train_s": train,
            "median_eval_s": eval,
            "us_per_iter": us_per_iter,
            "train_gflops_dense_equivalent": train_gflop / train,
            "eval_gflops_dense_equivalent": eval_gflop / eval,
            "peak_rss_mb": peak,
            "median_final_test_acc": acc,
            "wall_s": runs.iter().map(|r| r.wall_s).collect::<Vec<_>>(),
        });
        println!("{v}");
    } else {
        println!("median of {} whole runs:", runs.len());
        println!("  whole process  {wall:.3} s");
        println!("  load           {load:.3} s");
        println!(
            "  train          {train:.3} s  ({us_per_iter:.1} us/iter, {:.1} GFLOP/s dense-equivalent of {train_gflop:.0} GFLOP)",
            train_gflop / train
        );
        println!(
            "  eval           {eval:.3} s  ({} evaluations, {}; {:.1} GFLOP/s dense-equivalent of {eval_gflop:.0} GFLOP)",
            r.evaluations,
            if split_steps {
                "on both threads, pausing training"
            } else {
                "beside training when 2+ cores"
            },
            eval_gflop / eval
        );
        println!("  peak memory    {peak:.0} MB");
        println!("  test accuracy  {acc:.4}");
    }
}
