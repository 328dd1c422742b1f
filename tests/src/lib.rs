//! Helpers shared by the workspace-level end-to-end tests in `tests/tests/`.
//!
//! The tests run the real commands (`cargo xtask ...`, through the alias in
//! `.cargo/config.toml`, so xtask is built in release) on the real data sets.
//! Those come the way a user gets them: through bp-data's verifying fetch, from
//! `$BP_MIRROR/<dataset>` or the public mirrors, once per run into one cache
//! (`<target>/tmp/real-data`). Data that cannot be had make the tests fail, with
//! one line naming `BP_MIRROR`: they never skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use bp_data::fetch::{fetch, FetchOptions};
use bp_data::Dataset;

/// The workspace root (the parent of this package's directory).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Cargo's target directory: `$CARGO_TARGET_DIR`, else `<workspace root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => workspace_root().join(d),
        _ => workspace_root().join("target"),
    }
}

/// The data directory every test reads the real sets from (`<dir>/<dataset>/`):
/// `dataset` is fetched into it when missing, at most once per test process.
///
/// # Panics
/// If the data set cannot be fetched: one line that names `BP_MIRROR` and every
/// mirror tried.
pub fn real_data(dataset: &str) -> PathBuf {
    // The data sets already fetched and verified by this process.
    static DONE: Mutex<Vec<Dataset>> = Mutex::new(Vec::new());
    let root = target_dir().join("tmp").join("real-data");
    let dataset: Dataset = dataset
        .parse()
        .unwrap_or_else(|e| panic!("a test names a data set that does not exist: {e}"));
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if !done.contains(&dataset) {
        let result = FetchOptions::default()
            .with_env_mirror(dataset)
            .and_then(|opts| fetch(dataset, &root.join(dataset.name()), &opts, &mut |_| {}));
        if let Err(e) = result {
            panic!(
                "the real {dataset} data set is needed and could not be fetched \
                 (set BP_MIRROR to a local copy holding {dataset}/): {}",
                e.to_string().replace('\n', " ")
            );
        }
        done.push(dataset);
    }
    root
}

/// Runs `cargo xtask <args>` from the workspace root and returns its output.
///
/// # Panics
/// If cargo cannot be started at all.
pub fn xtask<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let output = Command::new(cargo)
        .current_dir(workspace_root())
        .arg("xtask")
        .args(args)
        .output();
    match output {
        Ok(o) => o,
        Err(e) => panic!("cannot run cargo xtask: {e}"),
    }
}

/// Standard output of a command as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error of a command as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that a command succeeded, showing its output if not.
///
/// # Panics
/// If the command failed.
pub fn assert_success(what: &str, o: &Output) {
    assert!(
        o.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        stdout(o),
        stderr(o)
    );
}
