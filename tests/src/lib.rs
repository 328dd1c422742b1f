//! Helpers shared by the workspace-level end-to-end tests in `tests/tests/`.
//!
//! The tests run the real commands (`cargo xtask ...`, through the alias in
//! `.cargo/config.toml`, so xtask is built in release) on the real data sets,
//! which they take from the shared local mirror `../shared/data` (override the
//! location with `BP_SHARED_DATA`). A missing mirror makes the tests fail with a
//! message saying so: they never skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (the parent of this package's directory).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The shared data directory: `$BP_SHARED_DATA`, else `<workspace root>/../shared/data`.
pub fn shared_data_root() -> PathBuf {
    match std::env::var_os("BP_SHARED_DATA") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => workspace_root().join("..").join("shared").join("data"),
    }
}

/// The local mirror of data set `name` (`mnist` or `fashion-mnist`).
///
/// # Panics
/// If the directory does not hold the data set's training images: the end-to-end
/// tests need the real data and fail, with this message, rather than skip.
pub fn shared_mirror(name: &str) -> PathBuf {
    let dir = shared_data_root().join(name);
    let probe = dir.join("train-images-idx3-ubyte.gz");
    let raw = dir.join("train-images-idx3-ubyte");
    assert!(
        probe.is_file() || raw.is_file(),
        "the end-to-end tests need the real {name} data set at {} (the shared local mirror; \
         set BP_SHARED_DATA to the folder holding mnist/ and fashion-mnist/)",
        dir.display()
    );
    dir
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
