//! The crate's error types: [`DataError`] (with the file it is about) and
//! [`IdxError`] (what is wrong with a stream of IDX bytes).

use std::fmt;
use std::io;
use std::path::PathBuf;

/// What is wrong with a stream of IDX bytes. It names no file: [`DataError::Idx`]
/// adds the path when the bytes came from one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdxError {
    /// No bytes at all (or a gzip stream that decompresses to nothing).
    #[error("empty file: no IDX header (0 bytes{})", if *.gzip { " after gzip decompression" } else { "" })]
    Empty {
        /// Whether the bytes were gzip-compressed.
        gzip: bool,
    },
    /// The stream ended inside the header.
    #[error("truncated header: {got} bytes, but this header needs {needed}")]
    TruncatedHeader {
        /// Bytes present.
        got: usize,
        /// Bytes the header needs (4, plus 4 per dimension).
        needed: usize,
    },
    /// The first two bytes are not zero: not an IDX file.
    #[error("{}", BadMagicDisplay(found, *.gzip))]
    BadMagic {
        /// The first four bytes (after gzip decompression, if any).
        found: [u8; 4],
        /// Whether the bytes had been gzip-decompressed already.
        gzip: bool,
    },
    /// The third header byte is not a known element type.
    #[error("unknown element type code 0x{code:02x} (known: 0x08 u8, 0x09 i8, 0x0b i16, 0x0c i32, 0x0d f32, 0x0e f64)")]
    UnknownType {
        /// The type code found.
        code: u8,
    },
    /// The fourth header byte (the rank) is zero.
    #[error("rank 0: an IDX array needs at least one dimension")]
    ZeroRank,
    /// The dimensions multiply to more bytes than this machine can address.
    #[error("dimensions {dims:?} of {elem} overflow: {what}")]
    TooLarge {
        /// The dimensions from the header.
        dims: Vec<u64>,
        /// The element type.
        elem: crate::idx::IdxType,
        /// Which product overflowed.
        what: &'static str,
    },
    /// Fewer payload bytes than the header declares.
    #[error("payload truncated: the header declares {expected} bytes of data, only {got} present")]
    PayloadTooShort {
        /// Bytes the header declares.
        expected: u64,
        /// Bytes present.
        got: u64,
    },
    /// More payload bytes than the header declares.
    #[error("{extra} unexpected bytes after the {expected} bytes of data the header declares")]
    PayloadTooLong {
        /// Bytes the header declares.
        expected: u64,
        /// Bytes beyond them.
        extra: u64,
    },
    /// The gzip stream ends early (an interrupted download, a truncated copy).
    #[error("truncated gzip stream: it ends before its end marker (incomplete download or copy?)")]
    TruncatedGzip,
    /// The gzip stream is damaged (bad header, bad deflate data, CRC or size mismatch).
    #[error("corrupt gzip stream: {message}")]
    CorruptGzip {
        /// What the decompressor reported.
        message: String,
    },
    /// Reading the underlying stream failed.
    #[error("read error: {error}")]
    Io {
        /// The error from the reader.
        error: io::Error,
    },
    /// An array does not have the element type a caller asked for.
    #[error("element type is {found}, expected {expected}")]
    WrongType {
        /// The type asked for.
        expected: crate::idx::IdxType,
        /// The type present.
        found: crate::idx::IdxType,
    },
    /// Dimensions and element count disagree, or a dimension does not fit the
    /// header's 32 bits (only when building an array to write).
    #[error("invalid array: {problem}")]
    InvalidArray {
        /// What is wrong.
        problem: String,
    },
}

struct BadMagicDisplay<'a>(&'a [u8; 4], bool);

impl fmt::Display for BadMagicDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "wrong magic number {:02x} {:02x} {:02x} {:02x}: not an IDX file (IDX starts with 00 00 <type> <rank>)",
            b[0], b[1], b[2], b[3]
        )?;
        if let Some(hint) = magic_hint(b, self.1) {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

/// A guess at what a non-IDX file is, for the error message.
fn magic_hint(b: &[u8; 4], gzip: bool) -> Option<&'static str> {
    let first = b.iter().copied().find(|c| !c.is_ascii_whitespace());
    if b[0] == 0x1f && b[1] == 0x8b {
        Some(if gzip {
            "it is still gzip-compressed after decompression (compressed twice?)"
        } else {
            "it is gzip-compressed: read it with idx::read_idx, which decompresses"
        })
    } else if first == Some(b'<') {
        Some("it looks like an HTML or XML page (a mirror's error page saved as data?)")
    } else if first == Some(b'{') {
        Some("it looks like a JSON document (an API error saved as data?)")
    } else if b == b"PK\x03\x04" {
        Some("it looks like a zip archive: unzip it first")
    } else if b == b"BZh9" || b.starts_with(b"BZh") {
        Some("it looks like a bzip2 stream: decompress it first")
    } else if b[0] == 0xfd && b[1] == b'7' {
        Some("it looks like an xz stream: decompress it first")
    } else if b[2] == 0 && b[3] == 0 && b[0] != 0 && b[1] >= 0x08 && b[1] <= 0x0e {
        Some("the header's byte order looks reversed (IDX is big-endian)")
    } else if b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        Some("it looks like text, not binary IDX data")
    } else {
        None
    }
}

/// One failed try of one mirror, as listed in [`DataError::FetchFailed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchAttempt {
    /// The URL or path tried.
    pub source: String,
    /// Why it failed.
    pub reason: String,
}

/// Everything that can go wrong loading, verifying or fetching data. Every variant
/// names the file or directory concerned and says what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// An I/O operation on a file or directory failed.
    #[error("{}: cannot {what}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done, e.g. "open", "create the directory".
        what: &'static str,
        /// The operating system's error.
        error: io::Error,
    },
    /// A file is missing.
    #[error("{}: file not found{}", path.display(), MissingHint(also_tried))]
    Missing {
        /// The file looked for.
        path: PathBuf,
        /// Other names tried (e.g. the file without `.gz`).
        also_tried: Vec<PathBuf>,
    },
    /// A file is not valid IDX data.
    #[error("{}: {error}", path.display())]
    Idx {
        /// The file.
        path: PathBuf,
        /// What is wrong with its bytes.
        error: IdxError,
    },
    /// A file is valid IDX, but not what the data set needs (rank, type, size, labels).
    #[error("{}: {problem}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// An image file and its label file disagree on the number of examples.
    #[error("{} holds {images} images but {} holds {labels} labels", images_path.display(), labels_path.display())]
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// Images it holds.
        images: usize,
        /// The label file.
        labels_path: PathBuf,
        /// Labels it holds.
        labels: usize,
    },
    /// A file does not have the expected SHA-256 or size.
    #[error("{}: verification failed: {problem}", path.display())]
    Verify {
        /// The file.
        path: PathBuf,
        /// What differs.
        problem: String,
    },
    /// Every mirror failed for one file.
    #[error("{}", FetchFailedDisplay { file, dest, attempts })]
    FetchFailed {
        /// The canonical file name (without `.gz`).
        file: String,
        /// Where it was to be stored.
        dest: PathBuf,
        /// Each mirror tried, in order, and why it failed.
        attempts: Vec<FetchAttempt>,
    },
    /// An unknown data set name.
    #[error("unknown data set `{name}`; valid names: {}", crate::Dataset::ALL.map(|d| d.name()).join(", "))]
    UnknownDataset {
        /// The name given.
        name: String,
    },
    /// A mirror that is neither an http(s) URL nor a directory path.
    #[error("unsupported mirror `{mirror}`: give an http:// or https:// URL or a local directory")]
    UnsupportedMirror {
        /// The mirror given.
        mirror: String,
    },
    /// A file meant to be a picture of a digit is not a PNG or JPEG image.
    #[error("{}: not a PNG or JPEG image: {reason}", path.display())]
    NotAnImage {
        /// The file.
        path: PathBuf,
        /// What it is instead, as far as can be told.
        reason: String,
    },
    /// A PNG or JPEG file that cannot be decoded (truncated, damaged, too large).
    #[error("{}: cannot decode this {format} image: {reason}", path.display())]
    BadImage {
        /// The file.
        path: PathBuf,
        /// "PNG" or "JPEG".
        format: &'static str,
        /// What the decoder reported.
        reason: String,
    },
    /// A picture of a digit in which nothing stands out from the background.
    #[error(
        "{}no ink: nothing stands out from the background (by at most {contrast} grey levels; {} needed)",
        PathPrefix(path.as_deref()),
        crate::digit::MIN_CONTRAST
    )]
    NoInk {
        /// The file, when the image came from one.
        path: Option<PathBuf>,
        /// How far the strongest pixel stands out from the background, of 255.
        contrast: u8,
    },
    /// A caller passed an invalid argument (an index out of range, inconsistent sizes).
    #[error("{what}: {problem}")]
    InvalidArgument {
        /// The function or value concerned.
        what: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// `"<path>: "`, or nothing when there is no path.
struct PathPrefix<'a>(Option<&'a std::path::Path>);

impl fmt::Display for PathPrefix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(p) => write!(f, "{}: ", p.display()),
            None => Ok(()),
        }
    }
}

struct MissingHint<'a>(&'a [PathBuf]);

impl fmt::Display for MissingHint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        write!(f, " (nor ")?;
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{}", p.display())?;
        }
        write!(f, ")")
    }
}

/// The mirror variable's name, here so that the error can name it without the
/// `download` feature (`bp_data::fetch::MIRROR_ENV` is this).
pub(crate) const MIRROR_ENV_NAME: &str = "BP_MIRROR";

struct FetchFailedDisplay<'a> {
    file: &'a str,
    dest: &'a PathBuf,
    attempts: &'a [FetchAttempt],
}

impl fmt::Display for FetchFailedDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: could not fetch a verified copy of {} from any mirror",
            self.dest.display(),
            self.file
        )?;
        if self.attempts.is_empty() {
            write!(f, " (no mirrors configured)")?;
        }
        for a in self.attempts {
            write!(f, "\n  - {}: {}", a.source, a.reason)?;
        }
        write!(
            f,
            "\nWithout internet, set {env} to a local copy: a directory (or URL) under which \
             <dataset>/{0}.gz is found, such as a folder holding mnist/ and fashion-mnist/; \
             or copy {0}.gz into {1}",
            self.file,
            self.dest.parent().unwrap_or(self.dest).display(),
            env = MIRROR_ENV_NAME,
        )
    }
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, what: &'static str, error: io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            what,
            error,
        }
    }

    pub(crate) fn invalid(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        DataError::Invalid {
            path: path.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn arg(what: &'static str, problem: impl Into<String>) -> Self {
        DataError::InvalidArgument {
            what,
            problem: problem.into(),
        }
    }

    /// The file or directory the error is about, if it is about one.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            DataError::Io { path, .. }
            | DataError::Missing { path, .. }
            | DataError::Idx { path, .. }
            | DataError::Invalid { path, .. }
            | DataError::Verify { path, .. }
            | DataError::NotAnImage { path, .. }
            | DataError::BadImage { path, .. } => Some(path),
            DataError::NoInk { path, .. } => path.as_deref(),
            DataError::CountMismatch { labels_path, .. } => Some(labels_path),
            DataError::FetchFailed { dest, .. } => Some(dest),
            DataError::UnknownDataset { .. }
            | DataError::UnsupportedMirror { .. }
            | DataError::InvalidArgument { .. } => None,
        }
    }
}
