//! `cargo xtask fetch-mnist`, and the data options every data-reading command shares.

use std::io::IsTerminal;
use std::path::PathBuf;

use bp_data::fetch::{FetchEvent, FetchOptions, FetchReport, Mirror};
use bp_data::{Dataset, MnistData};
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

/// Data options shared by every command that reads a data set.
#[derive(clap::Args, Clone, Debug)]
pub struct DataArgs {
    /// Data set: mnist or fashion-mnist.
    #[arg(long, default_value = "mnist", value_name = "NAME")]
    pub dataset: Dataset,

    /// Data directory; the files live in <DIR>/<dataset>/ [default: $BP_DATA_DIR, else data/ at the workspace root]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// A mirror to try first: an http(s) base URL, or a directory holding the
    /// data set's canonical file names (e.g. /mnt/copy/mnist). Repeatable; tried
    /// before $BP_MIRROR/<dataset> and the public mirrors.
    #[arg(long = "mirror", value_name = "URL_OR_DIR")]
    pub mirrors: Vec<Mirror>,

    /// Test only: replaces the data set's public mirrors (the tests point them at
    /// a loopback port that refuses, to check the error without internet).
    #[arg(long = "public-mirror", value_name = "URL", hide = true)]
    pub public_mirrors: Vec<Mirror>,

    /// Keep only the .gz files: no verified uncompressed copy beside them (saves
    /// 55 MB of disk per data set; every load then decompresses, about 0.05 s more).
    #[arg(long)]
    pub no_raw_copy: bool,
}

/// Options of `fetch-mnist`.
#[derive(clap::Args, Clone, Debug)]
pub struct FetchArgs {
    /// Which data set, where, and from where.
    #[command(flatten)]
    pub data: DataArgs,

    /// Fetch again even if a verified copy is present.
    #[arg(long)]
    pub force: bool,
}

/// The workspace root (the parent of this crate's directory).
///
/// `cargo run` (the `cargo xtask` alias) tells the process where the crate is:
/// the workspace the command runs in, even when cargo reused a build of the same
/// sources made elsewhere. The path compiled in is the fallback.
pub fn workspace_root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    match manifest.parent() {
        Some(root) => root.to_path_buf(),
        None => manifest,
    }
}

impl DataArgs {
    /// The data directory: `--data-dir`, else `$BP_DATA_DIR`, else `<workspace root>/data`.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(d) = &self.data_dir {
            return d.clone();
        }
        match std::env::var_os("BP_DATA_DIR") {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => workspace_root().join("data"),
        }
    }

    /// Where this data set's files live: `<data dir>/<dataset name>`.
    pub fn dataset_dir(&self) -> PathBuf {
        self.data_dir().join(self.dataset.name())
    }

    /// Fetch options for these arguments: every `--mirror`, then
    /// `$BP_MIRROR/<dataset>`, then the public mirrors (or `--public-mirror`s).
    pub fn fetch_options(&self, force: bool) -> anyhow::Result<FetchOptions> {
        let mut mirrors = self.mirrors.clone();
        let default_mirrors = self.public_mirrors.is_empty();
        let opts = FetchOptions {
            mirrors: Vec::new(),
            default_mirrors,
            force,
            raw_copy: !self.no_raw_copy,
            ..FetchOptions::default()
        };
        let mut opts = opts.with_env_mirror(self.dataset)?;
        mirrors.append(&mut opts.mirrors);
        mirrors.extend(self.public_mirrors.iter().cloned());
        opts.mirrors = mirrors;
        Ok(opts)
    }
}

/// Shows fetch progress: a byte progress bar on a terminal, plain lines otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    tty: bool,
    /// Also report files that were already verified.
    verbose: bool,
    /// Whether a raw copy that could not be written was reported (once is enough).
    raw_copy_failed: bool,
}

impl Progress {
    fn new(verbose: bool) -> Progress {
        Progress {
            bar: None,
            tty: std::io::stderr().is_terminal(),
            verbose,
            raw_copy_failed: false,
        }
    }

    fn clear(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn event(&mut self, e: FetchEvent) {
        match e {
            FetchEvent::AlreadyVerified { file, path } if self.verbose => {
                eprintln!("{file}: already verified ({})", path.display());
            }
            FetchEvent::ExistingInvalid {
                file,
                path,
                problem,
            } => {
                eprintln!(
                    "{file}: the copy at {} does not verify ({problem}); fetching it again",
                    path.display()
                );
            }
            FetchEvent::Trying { file, source } if !self.tty => {
                eprintln!("{file}: trying {source}");
            }
            FetchEvent::Started {
                file,
                source,
                total,
            } if self.tty => {
                self.clear();
                let bar = match total {
                    Some(t) => ProgressBar::new(t).with_style(
                        ProgressStyle::with_template(
                            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    ),
                    None => ProgressBar::new_spinner().with_style(
                        ProgressStyle::with_template("{spinner} {msg} {bytes} {bytes_per_sec}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    ),
                };
                bar.set_message(format!("{file} from {source}"));
                self.bar = Some(bar);
            }
            FetchEvent::Progress { bytes, .. } => {
                if let Some(bar) = &self.bar {
                    bar.set_position(bytes);
                }
            }
            FetchEvent::Failed {
                file,
                source,
                reason,
            } => {
                self.clear();
                eprintln!("{file}: {source} failed: {reason}");
            }
            FetchEvent::RawCopyWritten { file, path } if self.verbose => {
                eprintln!(
                    "{file}: kept a verified uncompressed copy for faster loading ({})",
                    path.display()
                );
            }
            FetchEvent::RawCopyFailed { file, path, reason } if !self.raw_copy_failed => {
                self.raw_copy_failed = true;
                self.clear();
                eprintln!(
                    "{file}: note: cannot keep an uncompressed copy at {} ({reason}); loading still works (--no-raw-copy skips this)",
                    path.display()
                );
            }
            FetchEvent::Fetched {
                file,
                path,
                source,
                bytes,
            } => {
                self.clear();
                eprintln!(
                    "{file}: fetched {} from {source}, verified, saved as {}",
                    HumanBytes(bytes),
                    path.display()
                );
            }
            _ => {}
        }
    }
}

/// Fetches (or finds verified) `args`' data set and loads it, every file read
/// once and verified as it is read, showing progress.
fn fetch_and_load(
    args: &DataArgs,
    force: bool,
    verbose: bool,
) -> anyhow::Result<(FetchReport, MnistData)> {
    let dest = args.dataset_dir();
    let opts = args.fetch_options(force)?;
    let mut progress = Progress::new(verbose);
    let result =
        bp_data::fetch::fetch_and_load(args.dataset, &dest, &opts, &mut |e| progress.event(e));
    progress.clear();
    Ok(result?)
}

/// Runs `fetch-mnist`.
pub fn run(args: &FetchArgs) -> anyhow::Result<()> {
    let (report, data) = fetch_and_load(&args.data, args.force, true)?;
    let dest = &report.dir;
    let title = args.data.dataset.title();
    if report.nothing_fetched() {
        println!(
            "{title}: all 4 files already verified in {}; nothing downloaded.",
            dest.display()
        );
    } else {
        println!(
            "{title}: fetched {} file(s), {} in all; all 4 files verified in {}.",
            report.fetched_count(),
            HumanBytes(report.bytes_fetched()),
            dest.display()
        );
    }
    println!(
        "{title}: {} training and {} test images of {}x{}, {} classes.",
        data.train.len(),
        data.test.len(),
        data.train.rows(),
        data.train.cols(),
        data.dataset.num_classes()
    );
    Ok(())
}

/// Makes sure `args`' data set is present and verified (fetching it if missing
/// or damaged) and loads it, in one pass over each file: the SHA-256 of every
/// file is checked on every run, while it is read, so a copy damaged since the
/// last run is caught (and replaced) rather than trusted. For `train`, `eval`
/// and `gradcheck`.
pub fn load_data(args: &DataArgs) -> anyhow::Result<MnistData> {
    Ok(fetch_and_load(args, false, false)?.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        fetch: FetchArgs,
    }

    #[test]
    fn options_parse() {
        let cli = Cli::try_parse_from(["x"]).expect("defaults");
        assert_eq!(cli.fetch.data.dataset, Dataset::Mnist);
        assert!(!cli.fetch.force && cli.fetch.data.mirrors.is_empty());

        let cli = Cli::try_parse_from([
            "x",
            "--dataset",
            "fashion-mnist",
            "--data-dir",
            "/tmp/d",
            "--mirror",
            "http://127.0.0.1:1/m/",
            "--mirror",
            "some/dir",
            "--force",
        ])
        .expect("all options");
        let d = &cli.fetch.data;
        assert_eq!(d.dataset, Dataset::FashionMnist);
        assert_eq!(
            d.dataset_dir(),
            std::path::Path::new("/tmp/d/fashion-mnist")
        );
        assert_eq!(
            d.mirrors[..],
            [
                Mirror::Url("http://127.0.0.1:1/m/".into()),
                Mirror::Dir("some/dir".into())
            ]
        );
        let opts = d.fetch_options(false).expect("options");
        assert_eq!(opts.mirrors[..2], d.mirrors[..]);
        assert!(opts.default_mirrors);
        assert!(cli.fetch.force);

        let e = Cli::try_parse_from(["x", "--dataset", "cifar"])
            .err()
            .expect("unknown data set");
        assert!(
            e.to_string().contains("valid names: mnist, fashion-mnist"),
            "{e}"
        );
        assert!(Cli::try_parse_from(["x", "--mirror", "ftp://x/"]).is_err());

        // The test-only public mirrors replace the data set's own, after the rest.
        let cli = Cli::try_parse_from([
            "x",
            "--mirror",
            "some/dir",
            "--public-mirror",
            "http://127.0.0.1:9/",
        ])
        .expect("public mirror");
        let opts = cli.fetch.data.fetch_options(true).expect("options");
        assert!(!opts.default_mirrors && opts.force);
        assert_eq!(opts.mirrors.first(), Some(&Mirror::Dir("some/dir".into())));
        assert_eq!(
            opts.mirrors.last(),
            Some(&Mirror::Url("http://127.0.0.1:9/".into()))
        );
    }
}
