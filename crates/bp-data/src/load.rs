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
    check_images(&images, images_path, dataset)?;
    let labels = idx::read_idx_file(labels_path)?;
    split_from_arrays(images, images_path, labels, labels_path, dataset)
}

/// Checks that `images` are rank-3 `u8` images of `dataset`'s size.
fn check_images(images: &IdxArray, images_path: &Path, dataset: Dataset) -> Result<(), DataError> {
    let (rows, cols) = dataset.image_shape();
    if images.rank() != 3 || images.elem_type() != idx::IdxType::U8 {
        return Err(DataError::invalid(
            images_path,
            format!(
                "expected images as a rank-3 u8 array (n x rows x cols), found a {}",
                describe(images)
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
    Ok(())
}

/// One split from parsed image and label arrays (the paths are for messages):
/// the checks of [`load_split`], without copying the pixels.
pub(crate) fn split_from_arrays(
    images: IdxArray,
    images_path: &Path,
    labels: IdxArray,
    labels_path: &Path,
    dataset: Dataset,
) -> Result<Split, DataError> {
    check_images(&images, images_path, dataset)?;
    let (rows, cols) = dataset.image_shape();
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
    let hex = hex(&hasher.finalize());
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

/// Payloads of at least this many bytes are hashed on a helper thread that follows
/// the reader chunk by chunk; smaller ones on the reading thread.
const HASH_THREAD_MIN: usize = 4 << 20;

/// The bytes handed to the hashing thread at a time.
const HASH_CHUNK: usize = 1 << 20;

/// Reads the file at `path` (gzip or raw) and checks that it holds `file`, in one
/// pass: the header is checked against `file`'s length, the payload is decompressed
/// (or read) straight into its final buffer, and the SHA-256 of the decompressed
/// bytes is computed as they arrive, on a second thread for large files. Returns
/// the array and whether the file was gzip.
///
/// It accepts and rejects exactly what [`verify_file`] does, with the same errors
/// (on failure the file is diagnosed again by the streaming verifier).
pub(crate) fn read_verified(path: &Path, file: &DataFile) -> Result<(IdxArray, bool), DataError> {
    let f = idx::open_file(path)?;
    match read_verified_stream(f, file) {
        Ok(loaded) => Ok(loaded),
        Err(fast) => Err(match verify_path(path, file) {
            Err(diagnosed) => diagnosed,
            // The file changed between the two reads: report the first.
            Ok(_) => fast.into_error(path),
        }),
    }
}

fn read_verified_stream<R: Read>(r: R, file: &DataFile) -> Result<(IdxArray, bool), Problem> {
    let mut d = Decoder::new(r, true).map_err(Problem::Idx)?;
    let (header, raw_header) = d.read_header().map_err(Problem::Idx)?;
    let total = (raw_header.len() as u64).checked_add(header.payload_bytes);
    if total != Some(file.size) {
        return Err(Problem::Mismatch(format!(
            "the header declares {:?} bytes in all, {} has {}",
            total, file.name, file.size
        )));
    }
    let mut hasher = Sha256::new();
    hasher.update(&raw_header);
    // The length is `file`'s, a known constant, so the buffer can be allocated at once.
    let payload = read_hashed(&mut d, header.payload_bytes, &mut hasher).map_err(Problem::Idx)?;
    // Nothing after the payload; for gzip this also checks the trailer's CRC and size.
    d.expect_end(header.payload_bytes).map_err(Problem::Idx)?;
    if !hex_matches(&hasher.finalize(), file.sha256) {
        return Err(Problem::Mismatch(format!(
            "SHA-256 of the decompressed bytes differs from {}'s",
            file.name
        )));
    }
    let array =
        IdxArray::from_parts_unchecked(header.dims, idx::decode_payload(header.elem, payload));
    Ok((array, d.is_gzip()))
}

/// Reads exactly `want` payload bytes into one buffer, feeding them to `hasher`.
fn read_hashed<R: Read>(
    d: &mut Decoder<R>,
    want: u64,
    hasher: &mut Sha256,
) -> Result<Vec<u8>, IdxError> {
    let len = usize::try_from(want).unwrap_or(usize::MAX);
    let mut buf = vec![0u8; len];
    let got = if len < HASH_THREAD_MIN {
        let n = d.read_full(&mut buf)?;
        hasher.update(&buf[..n]);
        n
    } else {
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel::<&[u8]>();
            let hashing = s.spawn(move || rx.iter().for_each(|c| hasher.update(c)));
            let mut rest: &mut [u8] = &mut buf;
            let mut got = 0;
            let read = loop {
                let k = rest.len().min(HASH_CHUNK);
                if k == 0 {
                    break Ok(());
                }
                match d.read_full(&mut rest[..k]) {
                    Err(e) => break Err(e),
                    Ok(n) => {
                        // Hand the filled part over; keep filling the rest.
                        let (done, tail) = std::mem::take(&mut rest).split_at_mut(n);
                        // The hashing thread only ends early by panicking (below).
                        let _ = tx.send(done);
                        rest = tail;
                        got += n;
                        if n < k {
                            break Ok(());
                        }
                    }
                }
            };
            drop(tx);
            if let Err(panic) = hashing.join() {
                std::panic::resume_unwind(panic);
            }
            read.map(|()| got)
        })?
    };
    if got < len {
        return Err(IdxError::PayloadTooShort {
            expected: want,
            got: got as u64,
        });
    }
    Ok(buf)
}

/// Whether `digest` is the hex string `expected` (either case).
fn hex_matches(digest: &[u8], expected: &str) -> bool {
    hex(digest).eq_ignore_ascii_case(expected)
}

/// Lower-case hex of a digest.
pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A [`DataFile`] describing `raw` (its SHA-256 and length), for tests.
#[cfg(test)]
pub(crate) fn data_file_for(name: &'static str, raw: &[u8]) -> DataFile {
    DataFile {
        name,
        sha256: Box::leak(hex(&Sha256::digest(raw)).into_boxed_str()),
        size: raw.len() as u64,
    }
}

/// What a directory holds for one file of a data set.
pub(crate) enum Found {
    /// A copy that verified, read.
    Verified {
        /// Its contents.
        array: IdxArray,
        /// Where it is.
        path: PathBuf,
        /// Whether it is gzip.
        #[cfg_attr(not(feature = "download"), allow(dead_code))]
        gzip: bool,
    },
    /// A copy exists but does not verify.
    Invalid {
        /// The copy (the first one tried, if both exist).
        #[cfg_attr(not(feature = "download"), allow(dead_code))]
        path: PathBuf,
        /// Why it does not verify.
        error: DataError,
    },
    /// No copy.
    Missing,
}

/// Reads and verifies each of `files` found in `dir`, in one pass per file, the
/// training images on a second thread. A file may be present as `<name>.gz` and
/// `<name>`: the first of them that verifies is used, the raw one first if
/// `raw_first`.
pub(crate) fn find_verified(dir: &Path, files: &[DataFile; 4], raw_first: bool) -> [Found; 4] {
    let one = |file: &DataFile| {
        let gz = dir.join(format!("{}.gz", file.name));
        let raw = dir.join(file.name);
        let order = if raw_first { [raw, gz] } else { [gz, raw] };
        let mut first_error = None;
        for path in order {
            if !path.is_file() {
                continue;
            }
            match read_verified(&path, file) {
                Ok((array, gzip)) => return Found::Verified { array, path, gzip },
                Err(error) => {
                    first_error.get_or_insert((path, error));
                }
            }
        }
        match first_error {
            Some((path, error)) => Found::Invalid { path, error },
            None => Found::Missing,
        }
    };
    std::thread::scope(|s| {
        let train = s.spawn(|| one(&files[0]));
        let rest = [one(&files[1]), one(&files[2]), one(&files[3])];
        let train = train
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let [a, b, c] = rest;
        [train, a, b, c]
    })
}

/// Builds a data set from its four verified arrays (in [`FileKind::ALL`] order)
/// and their paths, with the checks of [`load_split`].
pub(crate) fn data_from_arrays(
    dataset: Dataset,
    arrays: [(IdxArray, PathBuf); 4],
) -> Result<MnistData, DataError> {
    let [(ti, tip), (tl, tlp), (ei, eip), (el, elp)] = arrays;
    Ok(MnistData {
        dataset,
        train: split_from_arrays(ti, &tip, tl, &tlp, dataset)?,
        test: split_from_arrays(ei, &eip, el, &elp, dataset)?,
    })
}

/// Like [`load_dir`], but every file must also verify against `dataset`'s
/// checksums (see [`verify_file`]), which costs nothing extra in reading: each file
/// is decompressed once, straight into its final buffer, while its SHA-256 is
/// computed on a second thread. Of `<name>.gz` and `<name>`, the first that
/// verifies is used (the raw copy first when `prefer_raw`: reading it skips the
/// decompression); the error is the first copy's if none does.
pub fn load_dir_verified(
    dir: &Path,
    dataset: Dataset,
    prefer_raw: bool,
) -> Result<MnistData, DataError> {
    let files = dataset.files();
    let found = find_verified(dir, files, prefer_raw);
    let mut arrays = Vec::with_capacity(4);
    for (file, found) in files.iter().zip(found) {
        match found {
            Found::Verified { array, path, .. } => arrays.push((array, path)),
            Found::Invalid { error, .. } => return Err(error),
            Found::Missing => {
                return Err(DataError::Missing {
                    path: dir.join(format!("{}.gz", file.name)),
                    also_tried: vec![dir.join(file.name)],
                })
            }
        }
    }
    let arrays: [(IdxArray, PathBuf); 4] = arrays
        .try_into()
        .unwrap_or_else(|_| unreachable!("four files"));
    data_from_arrays(dataset, arrays)
}

#[cfg(test)]
mod tests;
