//! Loading a data set's four files from a directory, and verifying files by checksum.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::dataset::{DataFile, Dataset, FileKind};
use crate::error::{DataError, IdxError};
use crate::idx::{self, Decoder, IdxArray};
use crate::split::Split;

/// A whole data set: its training and test splits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnistData {
    /// Which data set this is.
    pub dataset: Dataset,
    /// The training split (60,000 examples for the real sets).
    pub train: Split,
    /// The test split (10,000 examples for the real sets).
    pub test: Split,
}

/// Finds `<dir>/<name>.gz`, else `<dir>/<name>`; a [`DataError::Missing`] naming
/// both if neither exists.
pub fn locate_file(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let gz = dir.join(format!("{name}.gz"));
    let raw = dir.join(name);
    for p in [&gz, &raw] {
        if p.is_file() {
            return Ok(p.clone());
        }
    }
    Err(DataError::Missing {
        path: gz,
        also_tried: vec![raw],
    })
}

/// Reads the four canonical files of `dataset` (`<name>.gz` or raw `<name>`) from
/// `dir` and checks them: types and ranks, the image size the set needs, equal
/// image and label counts, labels below the class count. It does not check
/// checksums (use [`verify_file`], or [`fetch`](crate::fetch) which does), so a
/// generated set in the same format loads too.
pub fn load_dir(dir: &Path, dataset: Dataset) -> Result<MnistData, DataError> {
    let mut paths = Vec::with_capacity(4);
    for kind in FileKind::ALL {
        paths.push(locate_file(dir, kind.file_name())?);
    }
    let (train, test) = std::thread::scope(|s| {
        let train = s.spawn(|| load_split(&paths[0], &paths[1], dataset));
        let test = load_split(&paths[2], &paths[3], dataset);
        let train = train
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (train, test)
    });
    Ok(MnistData {
        dataset,
        train: train?,
        test: test?,
    })
}

fn describe(a: &IdxArray) -> String {
    format!(
        "rank-{} {} array of shape {:?}",
        a.rank(),
        a.elem_type(),
        a.dims()
    )
}

/// Reads one split from an image file and a label file (gzip or raw) and checks
/// them against each other and against `dataset`.
pub fn load_split(
    images_path: &Path,
    labels_path: &Path,
    dataset: Dataset,
) -> Result<Split, DataError> {
    let images = idx::read_idx_file(images_path)?;
    let (rows, cols) = dataset.image_shape();
    if images.rank() != 3 || images.elem_type() != idx::IdxType::U8 {
        return Err(DataError::invalid(
            images_path,
            format!(
                "expected images as a rank-3 u8 array (n x rows x cols), found a {}",
                describe(&images)
            ),
        ));
    }
    if images.dims()[1..] != [rows, cols] {
        return Err(DataError::invalid(
            images_path,
            format!(
                "wrong image size: images are {}x{}, {} images are {rows}x{cols}",
                images.dims()[1],
                images.dims()[2],
                dataset.name()
            ),
        ));
    }
    let labels = idx::read_idx_file(labels_path)?;
    if labels.rank() != 1 || labels.elem_type() != idx::IdxType::U8 {
        return Err(DataError::invalid(
            labels_path,
            format!(
                "expected labels as a rank-1 u8 array, found a {}",
                describe(&labels)
            ),
        ));
    }
    if images.dims()[0] != labels.dims()[0] {
        return Err(DataError::CountMismatch {
            images_path: images_path.to_path_buf(),
            images: images.dims()[0],
            labels_path: labels_path.to_path_buf(),
            labels: labels.dims()[0],
        });
    }
    let classes = dataset.num_classes();
    let to_err = |path: &Path, e: IdxError| DataError::Idx {
        path: path.to_path_buf(),
        error: e,
    };
    let (_, labels) = labels
        .into_vec::<u8>()
        .map_err(|e| to_err(labels_path, e))?;
    if let Some((i, &l)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| usize::from(l) >= classes)
    {
        return Err(DataError::invalid(
            labels_path,
            format!(
                "label {l} at index {i} is out of range: {} has {classes} classes (0 to {})",
                dataset.name(),
                classes - 1
            ),
        ));
    }
    let (_, images) = images
        .into_vec::<u8>()
        .map_err(|e| to_err(images_path, e))?;
    Split::new(images, labels, rows, cols, classes)
}

/// Why a stream failed verification.
pub(crate) enum Problem {
    /// Not readable as IDX (bad magic, corrupt gzip, ...).
    Idx(IdxError),
    /// Readable, but the size or the checksum differs.
    Mismatch(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Idx(e) => e.fmt(f),
            Problem::Mismatch(s) => f.write_str(s),
        }
    }
}

impl Problem {
    pub(crate) fn into_error(self, path: &Path) -> DataError {
        match self {
            Problem::Idx(error) => DataError::Idx {
                path: path.to_path_buf(),
                error,
            },
            Problem::Mismatch(problem) => DataError::Verify {
                path: path.to_path_buf(),
                problem,
            },
        }
    }
}

/// Checks that `r` holds `file`: decompresses it if gzip, checks the IDX header,
/// then the length and SHA-256 of the decompressed bytes. Returns whether it was gzip.
pub(crate) fn verify_stream<R: Read>(r: R, file: &DataFile) -> Result<bool, Problem> {
    let mut d = Decoder::new(r, true).map_err(Problem::Idx)?;
    let (_, raw_header) = d.read_header().map_err(Problem::Idx)?;
    let mut hasher = Sha256::new();
    hasher.update(&raw_header);
    let header_len = raw_header.len() as u64;
    // Read at most one byte more than expected: enough to tell "too long".
    let want = file.size.saturating_sub(header_len) + 1;
    let got = header_len + d.stream(want, |c| hasher.update(c)).map_err(Problem::Idx)?;
    if got != file.size {
        let what = if got > file.size {
            format!("more than {}", file.size)
        } else {
            got.to_string()
        };
        return Err(Problem::Mismatch(format!(
            "decompressed size is {what} bytes, {} has {} bytes",
            file.name, file.size
        )));
    }
    // Check the gzip trailer (CRC) too.
    d.expect_end(file.size).map_err(Problem::Idx)?;
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if !hex.eq_ignore_ascii_case(file.sha256) {
        return Err(Problem::Mismatch(format!(
            "SHA-256 of the decompressed bytes is {hex}, expected {} for {}",
            file.sha256, file.name
        )));
    }
    Ok(d.is_gzip())
}

/// Checks that the file at `path` (gzip or raw) holds `file`: the length and
/// SHA-256 of its decompressed bytes.
pub fn verify_file(path: &Path, file: &DataFile) -> Result<(), DataError> {
    verify_path(path, file).map(|_| ())
}

pub(crate) fn verify_path(path: &Path, file: &DataFile) -> Result<bool, DataError> {
    let f = idx::open_file(path)?;
    verify_stream(f, file).map_err(|p| p.into_error(path))
}
