//! Fetching a data set from mirrors (HTTP(S) URLs or local directories), verified
//! and atomic. Behind the `download` cargo feature.
//!
//! For each file: if a copy already in the target directory verifies (SHA-256
//! and length of its decompressed bytes), nothing is fetched. Otherwise each
//! mirror is tried in order: the file is streamed into a temporary file in the
//! target directory, verified, and only then renamed to its canonical name
//! (`<name>.gz`, or `<name>` if the mirror served it uncompressed). A failed
//! or unverifiable attempt leaves nothing behind, so nothing unverified ever
//! sits under a final name, and concurrent fetches cannot corrupt each other.
//!
//! [`fetch_and_load`] does the same and loads the set, reading each file present
//! once: verified while it is decompressed into its final buffer. With
//! [`FetchOptions::raw_copy`] it also keeps a verified uncompressed copy beside
//! each `.gz` (the same way: temporary file, flushed, renamed), which later loads
//! read first, skipping the decompression.
//!
//! ```no_run
//! use bp_data::fetch::{fetch, FetchEvent, FetchOptions, Mirror};
//! use bp_data::Dataset;
//! use std::path::Path;
//!
//! // `$BP_MIRROR/mnist` (a local copy, or a URL base) is tried before the public mirrors.
//! let opts = FetchOptions::default().with_env_mirror(Dataset::Mnist)?;
//! let report = fetch(Dataset::Mnist, Path::new("data/mnist"), &opts, &mut |e| {
//!     if let FetchEvent::Fetched { file, source, .. } = e {
//!         println!("{file}: fetched from {source}");
//!     }
//! })?;
//! if report.nothing_fetched() {
//!     println!("already verified; nothing downloaded");
//! }
//! let data = bp_data::load_dir(Path::new("data/mnist"), Dataset::Mnist)?;
//! # Ok::<(), bp_data::DataError>(())
//! ```

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::dataset::{DataFile, Dataset};
use crate::error::{DataError, FetchAttempt};
use crate::idx::{self, IdxArray};
use crate::load::{
    data_from_arrays, find_verified, locate_file, read_verified, verify_path, verify_stream, Found,
    MnistData,
};

/// Where to get files from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mirror {
    /// An `http://` or `https://` base URL; the file `<name>.gz` is fetched from below it.
    Url(String),
    /// A local directory holding `<name>.gz` or `<name>` (e.g. `/mnt/datasets/mnist`).
    Dir(PathBuf),
}

/// The environment variable naming a mirror for machines without internet: a
/// directory or URL base under which `<dataset>/<canonical name>.gz` are found
/// (a local copy holding `mnist/` and `fashion-mnist/`). See [`env_mirror`].
pub const MIRROR_ENV: &str = crate::error::MIRROR_ENV_NAME;

/// The mirror of `dataset` named by [`MIRROR_ENV`]: `$BP_MIRROR/<dataset name>`,
/// or `None` when the variable is unset or empty.
pub fn env_mirror(dataset: Dataset) -> Result<Option<Mirror>, DataError> {
    match std::env::var_os(MIRROR_ENV) {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => {
            let base = v.to_str().map_or_else(
                || Ok(Mirror::Dir(PathBuf::from(&v))),
                |s| {
                    Mirror::parse(s).map_err(|_| DataError::UnsupportedMirror {
                        mirror: format!("{MIRROR_ENV}={s}"),
                    })
                },
            )?;
            Ok(Some(base.join(dataset.name())))
        }
    }
}

impl Mirror {
    /// Parses an http(s) URL, a `file://` URL, or (anything else without `://`) a directory path.
    pub fn parse(s: &str) -> Result<Mirror, DataError> {
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            Ok(Mirror::Url(s.to_string()))
        } else if lower.starts_with("file://") {
            Ok(Mirror::Dir(PathBuf::from(&s["file://".len()..])))
        } else if s.contains("://") || s.is_empty() {
            Err(DataError::UnsupportedMirror {
                mirror: s.to_string(),
            })
        } else {
            Ok(Mirror::Dir(PathBuf::from(s)))
        }
    }

    /// The mirror one level down, at `sub` (a URL path segment or a subdirectory).
    pub fn join(&self, sub: &str) -> Mirror {
        match self {
            Mirror::Url(base) => Mirror::Url(format!("{}/{sub}/", base.trim_end_matches('/'))),
            Mirror::Dir(dir) => Mirror::Dir(dir.join(sub)),
        }
    }

    /// The URL or path of `name` at this mirror (a directory's `.gz` name, whether or not it exists).
    pub fn location(&self, name: &str) -> String {
        match self {
            Mirror::Url(base) => format!("{}/{name}.gz", base.trim_end_matches('/')),
            Mirror::Dir(dir) => dir.join(format!("{name}.gz")).display().to_string(),
        }
    }
}

impl FromStr for Mirror {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Mirror, DataError> {
        Mirror::parse(s)
    }
}

impl fmt::Display for Mirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mirror::Url(u) => f.write_str(u),
            Mirror::Dir(d) => write!(f, "{}", d.display()),
        }
    }
}

/// How to fetch.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Mirrors tried first, in order (before the data set's public mirrors).
    pub mirrors: Vec<Mirror>,
    /// Whether [`fetch`] tries the data set's public mirrors after `mirrors` (default true).
    pub default_mirrors: bool,
    /// Fetch again even if a verified copy is present (default false).
    pub force: bool,
    /// [`fetch_and_load`] only: keep a verified uncompressed copy `<name>` beside
    /// each `<name>.gz` and read it first on later loads (default false). Reading
    /// the raw copy skips the decompression, the larger part of loading, at the
    /// cost of the uncompressed size on disk
    /// (55 MB per data set beside 11 MB (MNIST) or 30 MB (Fashion-MNIST) of
    /// gzip). The copy is verified on every load like any other; one that does not
    /// verify is passed over and rewritten from the `.gz`.
    pub raw_copy: bool,
    /// Limit for establishing a TCP connection (default 15 s).
    pub connect_timeout: Duration,
    /// Limit for each read from the network: a stalled server fails after this (default 30 s).
    pub read_timeout: Duration,
    /// Redirects followed per request (default 5); more is a failure of that mirror.
    pub max_redirects: u32,
    /// The HTTP `User-Agent`.
    pub user_agent: String,
}

impl Default for FetchOptions {
    fn default() -> FetchOptions {
        FetchOptions {
            mirrors: Vec::new(),
            default_mirrors: true,
            force: false,
            raw_copy: false,
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
            max_redirects: 5,
            user_agent: concat!("bp-data/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

impl FetchOptions {
    /// These options with the [`MIRROR_ENV`] mirror of `dataset` (if set)
    /// appended to `mirrors`: after the caller's own, before the public ones.
    pub fn with_env_mirror(mut self, dataset: Dataset) -> Result<FetchOptions, DataError> {
        if let Some(m) = env_mirror(dataset)? {
            if !self.mirrors.contains(&m) {
                self.mirrors.push(m);
            }
        }
        Ok(self)
    }
}

/// Progress of a fetch, reported as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchEvent {
    /// A copy already present verified; nothing will be fetched for it.
    AlreadyVerified {
        /// The canonical file name.
        file: &'static str,
        /// The verified copy.
        path: PathBuf,
    },
    /// A copy already present failed verification; it will be replaced.
    ExistingInvalid {
        /// The canonical file name.
        file: &'static str,
        /// The copy.
        path: PathBuf,
        /// Why it failed.
        problem: String,
    },
    /// A mirror is being tried.
    Trying {
        /// The canonical file name.
        file: &'static str,
        /// The URL or path tried.
        source: String,
    },
    /// The mirror answered; bytes are arriving.
    Started {
        /// The canonical file name.
        file: &'static str,
        /// The URL or path.
        source: String,
        /// The announced length, if any.
        total: Option<u64>,
    },
    /// More bytes arrived.
    Progress {
        /// The canonical file name.
        file: &'static str,
        /// Bytes received so far.
        bytes: u64,
        /// The announced length, if any.
        total: Option<u64>,
    },
    /// The mirror failed; the next one will be tried.
    Failed {
        /// The canonical file name.
        file: &'static str,
        /// The URL or path.
        source: String,
        /// Why.
        reason: String,
    },
    /// A verified uncompressed copy was written beside the `.gz` ([`FetchOptions::raw_copy`]).
    RawCopyWritten {
        /// The canonical file name.
        file: &'static str,
        /// The uncompressed copy.
        path: PathBuf,
    },
    /// The uncompressed copy could not be written (the data set loads anyway).
    RawCopyFailed {
        /// The canonical file name.
        file: &'static str,
        /// Where the copy would have gone.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file was fetched, verified and moved into place.
    Fetched {
        /// The canonical file name.
        file: &'static str,
        /// Where it now is.
        path: PathBuf,
        /// The URL or path it came from.
        source: String,
        /// Bytes transferred.
        bytes: u64,
    },
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// A verified copy was already present; nothing was fetched.
    AlreadyVerified,
    /// The file was fetched and verified.
    Fetched {
        /// The mirror that served it.
        mirror: Mirror,
        /// The URL or path of the file.
        source: String,
        /// Bytes transferred.
        bytes: u64,
    },
}

/// One file of a [`FetchReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The canonical file name (without `.gz`).
    pub file: &'static str,
    /// The verified file on disk.
    pub path: PathBuf,
    /// Whether it was already there or fetched.
    pub outcome: FileOutcome,
}

/// The result of a successful fetch: every file is verified on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    /// The target directory.
    pub dir: PathBuf,
    /// One entry per file, in order.
    pub files: Vec<FileReport>,
}

impl FetchReport {
    /// Whether every file was already verified, so nothing was transferred.
    pub fn nothing_fetched(&self) -> bool {
        self.files
            .iter()
            .all(|f| f.outcome == FileOutcome::AlreadyVerified)
    }

    /// How many files were fetched.
    pub fn fetched_count(&self) -> usize {
        self.files
            .iter()
            .filter(|f| f.outcome != FileOutcome::AlreadyVerified)
            .count()
    }

    /// Total bytes transferred.
    pub fn bytes_fetched(&self) -> u64 {
        self.files
            .iter()
            .map(|f| match f.outcome {
                FileOutcome::Fetched { bytes, .. } => bytes,
                FileOutcome::AlreadyVerified => 0,
            })
            .sum()
    }
}

/// Makes sure `dest_dir` (conventionally `<data-dir>/<dataset name>`) holds a
/// verified copy of each of `dataset`'s four files, trying `opts.mirrors` and then
/// (unless `opts.default_mirrors` is false) the data set's public mirrors.
pub fn fetch(
    dataset: Dataset,
    dest_dir: &Path,
    opts: &FetchOptions,
    progress: &mut dyn FnMut(FetchEvent),
) -> Result<FetchReport, DataError> {
    let all = with_default_mirrors(dataset, opts);
    fetch_files(dataset.files(), dest_dir, &all, progress)
}

/// `opts` with the data set's public mirrors appended when `default_mirrors` is set.
fn with_default_mirrors(dataset: Dataset, opts: &FetchOptions) -> FetchOptions {
    let mut all = opts.clone();
    if opts.default_mirrors {
        all.mirrors.extend(
            dataset
                .default_mirrors()
                .iter()
                .map(|u| Mirror::Url(u.to_string())),
        );
    }
    all
}

/// Makes sure `dest_dir` holds a verified copy of each of `files`, trying only
/// `opts.mirrors`, in order. Stops at the first file no mirror could provide.
pub fn fetch_files(
    files: &[DataFile],
    dest_dir: &Path,
    opts: &FetchOptions,
    progress: &mut dyn FnMut(FetchEvent),
) -> Result<FetchReport, DataError> {
    std::fs::create_dir_all(dest_dir)
        .map_err(|e| DataError::io(dest_dir, "create the data directory", e))?;
    let mut report = FetchReport {
        dir: dest_dir.to_path_buf(),
        files: Vec::with_capacity(files.len()),
    };
    for file in files {
        report
            .files
            .push(fetch_one(file, dest_dir, opts, progress)?);
    }
    Ok(report)
}

fn fetch_one(
    file: &DataFile,
    dest_dir: &Path,
    opts: &FetchOptions,
    progress: &mut dyn FnMut(FetchEvent),
) -> Result<FileReport, DataError> {
    if !opts.force {
        if let Ok(path) = locate_file(dest_dir, file.name) {
            match verify_path(&path, file) {
                Ok(_) => {
                    progress(FetchEvent::AlreadyVerified {
                        file: file.name,
                        path: path.clone(),
                    });
                    return Ok(FileReport {
                        file: file.name,
                        path,
                        outcome: FileOutcome::AlreadyVerified,
                    });
                }
                Err(e) => progress(FetchEvent::ExistingInvalid {
                    file: file.name,
                    path,
                    problem: e.to_string(),
                }),
            }
        }
    }
    fetch_from_mirrors(file, dest_dir, opts, progress)
}

/// Fetches `file` from the first of `opts.mirrors` that serves a verified copy.
fn fetch_from_mirrors(
    file: &DataFile,
    dest_dir: &Path,
    opts: &FetchOptions,
    progress: &mut dyn FnMut(FetchEvent),
) -> Result<FileReport, DataError> {
    let mut attempts = Vec::new();
    for mirror in &opts.mirrors {
        let source = mirror.location(file.name);
        progress(FetchEvent::Trying {
            file: file.name,
            source: source.clone(),
        });
        match attempt(file, mirror, dest_dir, opts, progress) {
            Ok((path, source, bytes)) => {
                progress(FetchEvent::Fetched {
                    file: file.name,
                    path: path.clone(),
                    source: source.clone(),
                    bytes,
                });
                return Ok(FileReport {
                    file: file.name,
                    path,
                    outcome: FileOutcome::Fetched {
                        mirror: mirror.clone(),
                        source,
                        bytes,
                    },
                });
            }
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Mirror(source, reason)) => {
                progress(FetchEvent::Failed {
                    file: file.name,
                    source: source.clone(),
                    reason: reason.clone(),
                });
                attempts.push(FetchAttempt { source, reason });
            }
        }
    }
    Err(DataError::FetchFailed {
        file: file.name.to_string(),
        dest: dest_dir.join(format!("{}.gz", file.name)),
        attempts,
    })
}

/// [`fetch`] and then [`load_dir`](crate::load_dir), with every file read once.
///
/// Each copy already in `dest_dir` is verified while it is loaded, in one pass
/// (see [`load_dir_verified`](crate::load_dir_verified)): decompressed straight
/// into its final buffer while its SHA-256 is computed on a second thread. Only a
/// missing or failing file is fetched (as [`fetch`] would), and read after it
/// verified. With `opts.force` every file is fetched first. The same events are
/// reported as by [`fetch`], in file order, plus [`FetchEvent::RawCopyWritten`] /
/// [`FetchEvent::RawCopyFailed`] with [`FetchOptions::raw_copy`].
///
/// The loaded data is always the bytes that verified: nothing is trusted from
/// an earlier run (no stamp files), so a copy damaged in place is caught on the
/// next load.
pub fn fetch_and_load(
    dataset: Dataset,
    dest_dir: &Path,
    opts: &FetchOptions,
    progress: &mut dyn FnMut(FetchEvent),
) -> Result<(FetchReport, MnistData), DataError> {
    let all = with_default_mirrors(dataset, opts);
    fetch_and_load_files(dataset, dataset.files(), dest_dir, &all, progress)
}

/// [`fetch_and_load`] of `files` (checksums) as `dataset` (shapes, classes),
/// trying only `opts.mirrors`.
fn fetch_and_load_files(
    dataset: Dataset,
    files: &[DataFile; 4],
    dest_dir: &Path,
    opts: &FetchOptions,
    progress: &mut dyn FnMut(FetchEvent),
) -> Result<(FetchReport, MnistData), DataError> {
    std::fs::create_dir_all(dest_dir)
        .map_err(|e| DataError::io(dest_dir, "create the data directory", e))?;
    let found = if opts.force {
        [
            Found::Missing,
            Found::Missing,
            Found::Missing,
            Found::Missing,
        ]
    } else {
        find_verified(dest_dir, files, opts.raw_copy)
    };
    let mut report = FetchReport {
        dir: dest_dir.to_path_buf(),
        files: Vec::with_capacity(4),
    };
    let mut arrays = Vec::with_capacity(4);
    for (file, found) in files.iter().zip(found) {
        let (array, path, gzip) = match found {
            Found::Verified { array, path, gzip } => {
                progress(FetchEvent::AlreadyVerified {
                    file: file.name,
                    path: path.clone(),
                });
                report.files.push(FileReport {
                    file: file.name,
                    path: path.clone(),
                    outcome: FileOutcome::AlreadyVerified,
                });
                (array, path, gzip)
            }
            other => {
                if let Found::Invalid { path, error } = other {
                    progress(FetchEvent::ExistingInvalid {
                        file: file.name,
                        path,
                        problem: error.to_string(),
                    });
                }
                let fetched = fetch_from_mirrors(file, dest_dir, opts, progress)?;
                let (array, gzip) = read_verified(&fetched.path, file)?;
                let path = fetched.path.clone();
                report.files.push(fetched);
                (array, path, gzip)
            }
        };
        if opts.raw_copy && gzip {
            let raw = dest_dir.join(file.name);
            progress(match write_raw_copy(&array, file, dest_dir) {
                Ok(()) => FetchEvent::RawCopyWritten {
                    file: file.name,
                    path: raw,
                },
                Err(e) => FetchEvent::RawCopyFailed {
                    file: file.name,
                    path: raw,
                    reason: e.to_string(),
                },
            });
        }
        arrays.push((array, path));
    }
    let arrays: [(IdxArray, PathBuf); 4] = arrays
        .try_into()
        .unwrap_or_else(|_| unreachable!("four files"));
    Ok((report, data_from_arrays(dataset, arrays)?))
}

/// Writes `array` (verified as `file`) uncompressed to `<dest_dir>/<name>`, the
/// way a fetch stores a file: into a temporary file in `dest_dir`, flushed to
/// disk, then renamed, so the final name never holds a partial copy.
fn write_raw_copy(array: &IdxArray, file: &DataFile, dest_dir: &Path) -> io::Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", file.name))
        .suffix(".part")
        .tempfile_in(dest_dir)?;
    idx::write_idx(tmp.as_file_mut(), array)?;
    tmp.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(dest_dir.join(file.name)).map_err(|e| e.error)?;
    Ok(())
}

/// Why an attempt failed: the mirror's fault (try the next), or ours (stop).
enum Failure {
    /// The source (URL or path) and the reason.
    Mirror(String, String),
    /// The target directory cannot be written, or similar: no mirror can help.
    Fatal(DataError),
}

type Body = Box<dyn Read + Send + Sync>;

/// Opens the file at a mirror: its location, reader and announced length.
fn open_source(
    file: &DataFile,
    mirror: &Mirror,
    opts: &FetchOptions,
) -> Result<(String, Body, Option<u64>), Failure> {
    match mirror {
        Mirror::Dir(dir) => {
            let path = locate_file(dir, file.name).map_err(|e| {
                Failure::Mirror(mirror.location(file.name), format!("not found ({e})"))
            })?;
            let shown = path.display().to_string();
            let f = File::open(&path)
                .map_err(|e| Failure::Mirror(shown.clone(), format!("cannot open: {e}")))?;
            let len = f.metadata().ok().map(|m| m.len());
            Ok((shown, Box::new(f), len))
        }
        Mirror::Url(_) => {
            let url = mirror.location(file.name);
            let fail = |reason: String| Failure::Mirror(url.clone(), reason);
            let resp = agent(opts, &url)
                .get(&url)
                .call()
                .map_err(|e| fail(describe_ureq_error(&e, &url, opts)))?;
            if resp.status() != 200 {
                let mut reason = format!("HTTP {} {}", resp.status(), resp.status_text());
                if let Some(loc) = resp.header("location") {
                    reason.push_str(&format!(
                        " (redirect to {loc} not followed: max_redirects is {})",
                        opts.max_redirects
                    ));
                }
                return Err(fail(reason));
            }
            // With a content encoding, the announced length is not the body's.
            let len = if resp.header("content-encoding").is_some() {
                None
            } else {
                resp.header("content-length")
                    .and_then(|v| v.trim().parse().ok())
            };
            Ok((url.clone(), resp.into_reader(), len))
        }
    }
}

fn agent(opts: &FetchOptions, url: &str) -> ureq::Agent {
    // ureq counts the final request against `redirects`; ours counts redirects followed.
    let redirects = if opts.max_redirects == 0 {
        0
    } else {
        opts.max_redirects.saturating_add(1)
    };
    ureq::AgentBuilder::new()
        .timeout_connect(opts.connect_timeout)
        .timeout_read(opts.read_timeout)
        .timeout_write(opts.read_timeout)
        .redirects(redirects)
        .user_agent(&opts.user_agent)
        // Honour HTTP(S)_PROXY, but never for the loopback (ureq 2 has no NO_PROXY).
        .try_proxy_from_env(!is_loopback(url))
        .build()
}

fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if let Some(h) = host.strip_prefix('[') {
        h.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn describe_ureq_error(e: &ureq::Error, url: &str, opts: &FetchOptions) -> String {
    match e {
        ureq::Error::Status(code, resp) => {
            let mut s = format!("HTTP {code} {}", resp.status_text());
            if resp.get_url() != url {
                s.push_str(&format!(" (from {}, after a redirect)", resp.get_url()));
            }
            s
        }
        ureq::Error::Transport(t) => {
            let s = t.to_string();
            let s = s
                .strip_prefix(&format!("{url}: "))
                .map(str::to_string)
                .unwrap_or(s);
            let lower = s.to_ascii_lowercase();
            if t.kind() == ureq::ErrorKind::TooManyRedirects {
                format!("more than {} redirects (max_redirects)", opts.max_redirects)
            } else if t.kind() == ureq::ErrorKind::ConnectionFailed && lower.contains("timed out") {
                format!(
                    "timed out: no connection within {:?} (connect timeout)",
                    opts.connect_timeout
                )
            } else if lower.contains("timed out") || lower.contains("would block") {
                format!(
                    "timed out: no response within {:?} (read timeout)",
                    opts.read_timeout
                )
            } else {
                s
            }
        }
    }
}

fn attempt(
    file: &DataFile,
    mirror: &Mirror,
    dest_dir: &Path,
    opts: &FetchOptions,
    progress: &mut dyn FnMut(FetchEvent),
) -> Result<(PathBuf, String, u64), Failure> {
    // The temporary file first: if the directory cannot be written, no mirror can help.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", file.name))
        .suffix(".part")
        .tempfile_in(dest_dir)
        .map_err(|e| {
            Failure::Fatal(DataError::io(
                dest_dir,
                "create a temporary file in the data directory",
                e,
            ))
        })?;
    let (source, mut body, total) = open_source(file, mirror, opts)?;
    let fail = |reason: String| Failure::Mirror(source.clone(), reason);
    // No valid copy is longer than the raw bytes plus gzip's worst-case overhead.
    let cap = file.size + file.size / 64 + (64 << 10);
    if let Some(t) = total.filter(|&t| t > cap) {
        return Err(fail(format!(
            "announces {t} bytes, more than any copy of {} can have",
            file.name
        )));
    }
    progress(FetchEvent::Started {
        file: file.name,
        source: source.clone(),
        total,
    });
    let mut buf = vec![0u8; 64 << 10];
    let mut bytes = 0u64;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
                let why = if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) {
                    format!(
                        "timed out: no data for {:?} (read timeout)",
                        opts.read_timeout
                    )
                } else {
                    format!("connection failed: {e}")
                };
                return Err(fail(format!("{why}, after {bytes}{of} bytes")));
            }
        };
        bytes += n as u64;
        if bytes > cap {
            return Err(fail(format!(
                "more than {cap} bytes, more than any copy of {} can have",
                file.name
            )));
        }
        tmp.write_all(&buf[..n]).map_err(|e| {
            Failure::Fatal(DataError::io(tmp.path(), "write the temporary file", e))
        })?;
        progress(FetchEvent::Progress {
            file: file.name,
            bytes,
            total,
        });
    }
    if let Some(t) = total.filter(|&t| t != bytes) {
        return Err(fail(format!(
            "connection closed after {bytes} of {t} announced bytes"
        )));
    }
    tmp.as_file_mut()
        .sync_all()
        .map_err(|e| Failure::Fatal(DataError::io(tmp.path(), "write the temporary file", e)))?;
    let reopened = File::open(tmp.path())
        .map_err(|e| Failure::Fatal(DataError::io(tmp.path(), "reopen the temporary file", e)))?;
    let gzip = verify_stream(reopened, file)
        .map_err(|p| fail(format!("{p} (after {bytes} bytes; discarded)")))?;
    let (name, other) = if gzip {
        (format!("{}.gz", file.name), file.name.to_string())
    } else {
        (file.name.to_string(), format!("{}.gz", file.name))
    };
    let final_path = dest_dir.join(name);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // tempfile creates 0600; a data file is for everyone to read.
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(&final_path).map_err(|e| {
        Failure::Fatal(DataError::io(
            &final_path,
            "move the verified download into place",
            e.error,
        ))
    })?;
    // A stale copy under the other name would shadow (or be shadowed by) this one.
    match std::fs::remove_file(dest_dir.join(&other)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(Failure::Fatal(DataError::io(
                dest_dir.join(other),
                "remove a stale copy",
                e,
            )))
        }
        _ => {}
    }
    Ok((final_path, source, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_parsing() {
        assert_eq!(
            "https://x.org/m/".parse::<Mirror>().ok(),
            Some(Mirror::Url("https://x.org/m/".into()))
        );
        assert_eq!(
            "../copies/mnist".parse::<Mirror>().ok(),
            Some(Mirror::Dir("../copies/mnist".into()))
        );
        assert_eq!(
            "file:///tmp/m".parse::<Mirror>().ok(),
            Some(Mirror::Dir("/tmp/m".into()))
        );
        assert!(matches!(
            "ftp://x.org/".parse::<Mirror>(),
            Err(DataError::UnsupportedMirror { .. })
        ));
        assert_eq!(
            Mirror::Url("http://h/a".into()).location("f"),
            "http://h/a/f.gz"
        );
        assert_eq!(
            Mirror::Url("http://h/a/".into()).location("f"),
            "http://h/a/f.gz"
        );
    }

    #[test]
    fn a_mirror_one_level_down() {
        assert_eq!(
            Mirror::Url("http://h/a".into()).join("mnist"),
            Mirror::Url("http://h/a/mnist/".into())
        );
        assert_eq!(
            Mirror::Url("http://h/a/".into())
                .join("mnist")
                .location("f"),
            "http://h/a/mnist/f.gz"
        );
        assert_eq!(
            Mirror::Dir("/copy".into()).join("fashion-mnist"),
            Mirror::Dir("/copy/fashion-mnist".into())
        );
    }

    // The only unit test that touches the variable, so no other test sees it change.
    #[test]
    fn the_env_mirror_is_tried_after_the_callers_own() {
        std::env::set_var(MIRROR_ENV, "/copy");
        let opts = FetchOptions {
            mirrors: vec![Mirror::Dir("/mine".into())],
            ..FetchOptions::default()
        };
        let opts = opts
            .with_env_mirror(Dataset::FashionMnist)
            .expect("a directory");
        assert_eq!(
            opts.mirrors,
            [
                Mirror::Dir("/mine".into()),
                Mirror::Dir("/copy/fashion-mnist".into())
            ]
        );
        // Named twice, tried once.
        let again = opts.with_env_mirror(Dataset::FashionMnist).expect("same");
        assert_eq!(again.mirrors.len(), 2);
        std::env::set_var(MIRROR_ENV, "https://example.org/sets");
        assert_eq!(
            env_mirror(Dataset::Mnist).expect("a URL"),
            Some(Mirror::Url("https://example.org/sets/mnist/".into()))
        );
        std::env::set_var(MIRROR_ENV, "ftp://x/");
        let e = env_mirror(Dataset::Mnist).expect_err("unsupported");
        assert!(e.to_string().contains("BP_MIRROR=ftp://x/"), "{e}");
        std::env::set_var(MIRROR_ENV, "");
        assert_eq!(env_mirror(Dataset::Mnist).expect("empty"), None);
        std::env::remove_var(MIRROR_ENV);
        assert_eq!(env_mirror(Dataset::Mnist).expect("unset"), None);
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("http://127.0.0.1:8080/x"));
        assert!(is_loopback("http://localhost/x"));
        assert!(is_loopback("http://[::1]:80/x"));
        assert!(is_loopback("http://user@127.0.0.2/x"));
        assert!(!is_loopback(
            "https://storage.googleapis.com/cvdf-datasets/mnist/"
        ));
        assert!(!is_loopback("http://10.0.0.1/"));
    }
}

#[cfg(test)]
mod load_tests;
