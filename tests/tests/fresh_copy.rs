//! A newcomer's machine: a copy of the workspace with nothing beside it, the data
//! named only by `BP_MIRROR`, and then without it and without internet.
//!
//! The copy holds what a clone holds (`git ls-files`), in a folder of its own.
//! It builds into this workspace's target folder, so no dependency is compiled
//! again (cargo may even reuse this workspace's xtask: the sources are the
//! same). Either way the xtask works in the copy's folders, `data/` and `runs/`:
//! it finds its workspace from `cargo run`, not from where it was built.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use bp_tests::{assert_success, real_data, stderr, stdout, target_dir, workspace_root};

/// The copy: `<scratch>/lonely/backprop`, made once per test process.
fn copy() -> &'static Path {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| {
        let parent = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lonely");
        let _ = std::fs::remove_dir_all(&parent);
        let dest = parent.join("backprop");
        let root = workspace_root();
        let listed = Command::new("git")
            .current_dir(&root)
            .args([
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ])
            .output()
            .expect("git runs");
        assert_success("git ls-files", &listed);
        for rel in listed.stdout.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            let rel = Path::new(std::str::from_utf8(rel).expect("a UTF-8 path"));
            let (from, to) = (root.join(rel), dest.join(rel));
            if !from.is_file() {
                continue; // listed but deleted in the work tree
            }
            std::fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
            std::fs::copy(&from, &to).expect("copy a file");
            // The source's times, so that cargo's next build of the copy is incremental.
            let modified = std::fs::metadata(&from).and_then(|m| m.modified());
            let file = std::fs::File::options().write(true).open(&to);
            if let (Ok(t), Ok(f)) = (modified, file) {
                let _ = f.set_modified(t);
            }
        }
        let beside: Vec<_> = std::fs::read_dir(&parent)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(beside, ["backprop"], "nothing beside the copy");
        dest
    })
}

/// `cargo xtask <args>` in the copy, with `BP_MIRROR` set to `mirror` or unset.
fn xtask_in_copy(args: &[&str], mirror: Option<&Path>) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(copy())
        .arg("xtask")
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("BP_DATA_DIR")
        .env_remove("BP_MIRROR");
    if let Some(m) = mirror {
        cmd.env("BP_MIRROR", m);
    }
    cmd.output().expect("cargo runs")
}

#[test]
fn the_copy_trains_with_data_from_bp_mirror_alone() {
    // The tests' verified cache holds `mnist/*.gz`: the layout of a local copy.
    let mirror = real_data("mnist");
    let o = xtask_in_copy(&["train", "--iters", "600"], Some(&mirror));
    assert_success("cargo xtask train --iters 600 in the copy", &o);
    let err = stderr(&o);
    let from = mirror.join("mnist").join("train-images-idx3-ubyte.gz");
    assert!(err.contains(&from.display().to_string()), "{err}");
    let data = copy().join("data").join("mnist");
    for name in ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        assert!(data.join(name).is_file(), "{name} fetched into data/mnist");
    }
    let metrics = copy().join("runs").join("latest").join("metrics.json");
    let text = std::fs::read_to_string(&metrics).expect("metrics.json written");
    let m: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let acc = m["final_test_acc"].as_f64().expect("final_test_acc");
    assert!(acc > 0.85, "600 iterations reach {acc}");
    assert!(stdout(&o).contains("final"), "{}", stdout(&o));
}

#[test]
fn without_bp_mirror_or_internet_the_error_names_bp_mirror_and_the_mirrors() {
    // A port that refuses: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let public = format!("http://127.0.0.1:{port}/mnist/");
    let scratch = tempfile::tempdir().expect("tempdir");
    let data_dir = scratch.path().display().to_string();
    let o = xtask_in_copy(
        &[
            "train",
            "--iters",
            "10",
            "--data-dir",
            &data_dir,
            "--public-mirror",
            &public,
        ],
        None,
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("BP_MIRROR"), "{err}");
    assert!(err.contains(&public), "the mirror tried: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let messages = err.lines().filter(|l| l.starts_with("error: ")).count();
    assert_eq!(messages, 1, "one error: {err}");
    assert!(
        !scratch
            .path()
            .join("mnist/train-images-idx3-ubyte.gz")
            .exists(),
        "nothing under a final name"
    );
}
