//! `cargo xtask bench`: times the whole default training job, as separate
//! processes, and reports medians; with `--against`, alternates with another
//! build and reports the ratios too (on a shared, noisy machine, the fair way
//! to compare two versions).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};

/// Options of `bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// How many whole runs to time (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Untimed runs of each build first, so that every timed run finds the
    /// data files in the OS's cache.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Another build of this program (e.g. a copy of `target/release/xtask`
    /// made at another commit) to time too, alternating run by run with this
    /// one; prints both medians and their ratios.
    #[arg(long, value_name = "EXE")]
    against: Option<PathBuf>,
    /// Also time this build with `--eval-every 0` (only the final net
    /// evaluated), alternating with the other runs, and report what the
    /// scheduled evaluations add to a whole run: the difference of the medians.
    #[arg(long)]
    eval_cost: bool,
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
    let this = std::env::current_exe().context("cannot find the xtask executable")?;
    // (name, program, options added to `train_args`)
    let mut builds = vec![("this build", this.clone(), Vec::new())];
    if let Some(other) = &args.against {
        if !other.is_file() {
            bail!("--against {}: no such program", other.display());
        }
        builds.push(("--against", other.clone(), Vec::new()));
    }
    if args.eval_cost {
        if args
            .train_args
            .iter()
            .any(|a| a.starts_with("--eval-every"))
        {
            bail!("--eval-cost sets --eval-every itself: leave it out of the train options");
        }
        let no_eval = vec!["--eval-every".to_string(), "0".to_string()];
        builds.push(("without evaluations", this, no_eval));
    }
    let out = std::env::temp_dir().join(format!("bp-bench-{}", std::process::id()));
    let mut runs: Vec<Vec<Run>> = vec![Vec::with_capacity(args.runs); builds.len()];
    for i in 0..args.warmup {
        for (b, (name, exe, extra)) in builds.iter().enumerate() {
            let train_args = [&args.train_args[..], extra].concat();
            time_run(exe, &out.join(format!("warmup{i}-{b}")), &train_args)
                .with_context(|| format!("{name}: warm-up run {} failed", i + 1))?;
        }
    }
    // Alternating, so a slow spell of the machine hits both builds alike.
    for i in 0..args.runs {
        for (b, (name, exe, extra)) in builds.iter().enumerate() {
            let train_args = [&args.train_args[..], extra].concat();
            let run = time_run(exe, &out.join(format!("run{i}-{b}")), &train_args)
                .with_context(|| format!("{name}: training run {} failed", i + 1))?;
            if !args.json {
                eprintln!(
                    "{name}, run {}/{}: {:.2} s (train {:.2} s, eval {:.2} s), test acc {:.4}",
                    i + 1,
                    args.runs,
                    run.wall_s,
                    run.train_s,
                    run.eval_s,
                    run.final_test_acc
                );
            }
            runs[b].push(run);
        }
    }
    // Best effort: the runs' outputs are only needed for the numbers above.
    let _ = std::fs::remove_dir_all(&out);
    let this = Summary::of(&runs[0]);
    let other = args.against.as_ref().map(|_| Summary::of(&runs[1]));
    let no_eval = args.eval_cost.then(|| Summary::of(&runs[builds.len() - 1]));
    if args.json && other.is_none() && no_eval.is_none() {
        println!("{}", this.json());
        return Ok(());
    }
    if args.json {
        let mut json = serde_json::Map::new();
        json.insert("this".into(), this.json());
        if let Some(other) = &other {
            json.insert("against".into(), other.json());
            let r = ratios(&this, other).map(|(k, v)| (k.to_string(), v.into()));
            json.insert("ratios".into(), serde_json::Map::from_iter(r).into());
        }
        if let Some(no_eval) = &no_eval {
            json.insert("without_evaluations".into(), no_eval.json());
            json.insert("eval_cost_s".into(), (this.wall - no_eval.wall).into());
        }
        println!("{}", serde_json::Value::from(json));
        return Ok(());
    }
    if other.is_some() || no_eval.is_some() {
        println!("this build:");
    }
    this.print();
    if let Some(other) = &other {
        println!("--against {}:", builds[1].1.display());
        other.print();
        let r: Vec<String> = ratios(&this, other)
            .iter()
            .map(|(k, v)| format!("{} {v:.3}", k.replace('_', " ")))
            .collect();
        println!(
            "ratios of the medians, --against / this build (above 1: this build is faster): {}",
            r.join(", ")
        );
    }
    if let Some(no_eval) = &no_eval {
        println!("this build without evaluations (--eval-every 0, the final net's only):");
        no_eval.print();
        println!(
            "the {} evaluations add {:.3} s to a whole run (median {:.3} s against {:.3} s)",
            this.evaluations,
            this.wall - no_eval.wall,
            this.wall,
            no_eval.wall
        );
    }
    Ok(())
}

/// One whole `train --quiet` run of `exe`, its outputs in `dir`, timed.
fn time_run(exe: &Path, dir: &Path, train_args: &[String]) -> anyhow::Result<Run> {
    let t = Instant::now();
    let status = Command::new(exe)
        .arg("train")
        .arg("--quiet")
        .arg("--out")
        .arg(dir)
        .args(train_args)
        .stdout(std::process::Stdio::null())
        .status()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    let wall_s = t.elapsed().as_secs_f64();
    if !status.success() {
        bail!("{} exited with {status}", exe.display());
    }
    read_run(&dir.join("metrics.json"), wall_s)
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

/// Medians of a set of runs, and the figures derived from them.
struct Summary {
    runs: usize,
    wall: f64,
    load: f64,
    train: f64,
    eval: f64,
    peak: f64,
    acc: f64,
    us_per_iter: f64,
    evaluations: f64,
    train_gflop: f64,
    eval_gflop: f64,
    walls: Vec<f64>,
}

impl Summary {
    fn of(runs: &[Run]) -> Self {
        let med = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
        let r = runs[0];
        let train = med(|r| r.train_s);
        Summary {
            runs: runs.len(),
            wall: med(|r| r.wall_s),
            load: med(|r| r.load_s),
            train,
            eval: med(|r| r.eval_s),
            peak: med(|r| r.peak_rss_mb),
            acc: med(|r| r.final_test_acc),
            us_per_iter: train / r.iters * 1e6,
            evaluations: r.evaluations,
            train_gflop: r.flops_per_iter * r.iters / 1e9,
            eval_gflop: r.flops_per_example * (r.train_size + r.test_size) * r.evaluations / 1e9,
            walls: runs.iter().map(|r| r.wall_s).collect(),
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "runs": self.runs,
            "median_wall_s": self.wall,
            "median_load_s": self.load,
            "median_train_s": self.train,
            "median_eval_s": self.eval,
            "us_per_iter": self.us_per_iter,
            "train_gflops_dense_equivalent": self.train_gflop / self.train,
            "eval_gflops_dense_equivalent": self.eval_gflop / self.eval,
            "peak_rss_mb": self.peak,
            "median_final_test_acc": self.acc,
            "wall_s": self.walls,
        })
    }

    fn print(&self) {
        let (train, eval, train_gflop, eval_gflop) =
            (self.train, self.eval, self.train_gflop, self.eval_gflop);
        println!("median of {} whole runs:", self.runs);
        println!("  whole process  {:.3} s", self.wall);
        println!("  load           {:.3} s", self.load);
        println!(
            "  train          {train:.3} s  ({:.1} us/iter, {:.1} GFLOP/s dense-equivalent of {train_gflop:.0} GFLOP)",
            self.us_per_iter,
            train_gflop / train
        );
        if self.evaluations == 0.0 {
            println!("  eval           {eval:.3} s  (the final net only)");
        } else {
            println!(
                "  eval           {eval:.3} s  ({} evaluations, beside training when 2+ cores; {:.1} GFLOP/s dense-equivalent of {eval_gflop:.0} GFLOP)",
                self.evaluations,
                eval_gflop / eval
            );
        }
        println!("  peak memory    {:.0} MB", self.peak);
        println!("  test accuracy  {:.4}", self.acc);
    }
}

/// `other / this` for the medians: above 1, this build is faster (or smaller).
fn ratios(this: &Summary, other: &Summary) -> [(&'static str, f64); 4] {
    [
        ("whole", other.wall / this.wall),
        ("train", other.train / this.train),
        ("eval", other.eval / this.eval),
        ("peak_memory", other.peak / this.peak),
    ]
}
