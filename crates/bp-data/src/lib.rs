//! A strict IDX (MNIST-format) parser and MNIST / Fashion-MNIST loader with a
//! verifying, atomic downloader.
//!
//! - [`idx`]: read and write IDX arrays of every element type and rank, gzip or
//!   raw (detected from the bytes). The header is checked before anything is
//!   allocated, and the payload must be exactly as long as it says.
//! - [`load_dir`]: read a data set's four canonical files from a directory into
//!   [`MnistData`], checking images against labels. Each [`Split`] keeps the raw
//!   `u8` pixels and gives the views of the book's `load_mnist(normalize, flatten,
//!   one_hot_label)`: floats in `[0, 1]` (`f32` or `f64`), flat `n x 784` or
//!   `n x 1 x 28 x 28`, labels as indices or one-hot; converted all at once or
//!   per minibatch into reused buffers.
//! - [`fetch`] (cargo feature `download`, on by default): get the files from
//!   mirrors or a local directory, verified by the SHA-256 of their decompressed
//!   bytes and moved into place only once verified; [`fetch::fetch_and_load`]
//!   fetches what is missing and loads everything, verifying each file in the
//!   same pass that reads it (and, optionally, keeping a verified uncompressed
//!   copy beside each `.gz` so later loads skip the decompression).
//! - [`load_dir_verified`]: [`load_dir`] that also checks every file's SHA-256,
//!   at almost no extra cost (hashed on a second thread while being read).
//!
//! - [`digit`]: your own digit. [`digit::prepare_digit`] makes any greyscale
//!   picture of a digit into a 28x28 image the way MNIST's were made (inverted
//!   if on a light background, cropped, scaled to 20 pixels, centred by its
//!   centre of mass); [`digit::load_digit`] (cargo feature `image`, on by
//!   default) reads it from a PNG or JPEG file first.
//!
//! Errors are [`DataError`]s that name the file and say what is wrong; no input
//! makes this crate panic.
//!
//! ```
//! use bp_data::idx::{self, IdxArray, IdxData};
//! use bp_data::Split;
//!
//! // Two 2x2 images and their labels, as gzip-compressed IDX bytes in memory.
//! let images = IdxArray::new(vec![2, 2, 2], IdxData::U8(vec![0, 255, 51, 102, 255, 0, 0, 255])).unwrap();
//! let labels = IdxArray::new(vec![2], IdxData::U8(vec![3, 1])).unwrap();
//! let (images_gz, labels_gz) = (idx::encode(&images, true), idx::encode(&labels, true));
//!
//! // Parse them back (gzip is detected from the bytes) ...
//! let (dims, pixels) = idx::read_idx(&images_gz[..]).unwrap().into_vec::<u8>().unwrap();
//! assert_eq!(dims, [2, 2, 2]);
//! let (_, labels) = idx::read_idx(&labels_gz[..]).unwrap().into_vec::<u8>().unwrap();
//!
//! // ... and view them as the book does.
//! let split = Split::new(pixels, labels, 2, 2, 10).unwrap();
//! assert_eq!(split.images().dim(), (2, 4)); // flat, zero-copy u8
//! let x = split.to_f32(true); // normalised to [0, 1]
//! assert_eq!(x[[0, 1]], 1.0);
//! assert!((x[[0, 2]] - 0.2).abs() < 1e-6);
//! let t = split.one_hot::<f64>();
//! assert_eq!(t.row(0).to_vec(), [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
//!
//! // A damaged file is an error that says what is wrong.
//! let err = idx::read_idx(&images_gz[..images_gz.len() - 4]).unwrap_err();
//! assert!(err.to_string().contains("gzip"), "{err}");
//! ```
//!
//! Loading a real data set fetched before (see [`fetch`]):
//!
//! ```no_run
//! use bp_data::{load_dir, Dataset};
//!
//! let data = load_dir(std::path::Path::new("data/mnist"), Dataset::Mnist)?;
//! assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
//! let mut x = ndarray::Array2::<f32>::zeros((0, 0));
//! let mut y = Vec::new();
//! data.train.gather_into(&[0, 1, 2], &mut x, &mut y)?; // a minibatch, normalised
//! assert_eq!(y, [5, 0, 4]);
//! # Ok::<(), bp_data::DataError>(())
//! ```

mod dataset;
pub mod digit;
mod error;
pub mod idx;
mod load;
mod split;

#[cfg(feature = "download")]
pub mod fetch;

pub use dataset::{DataFile, Dataset, FileKind};
pub use error::{DataError, FetchAttempt, IdxError};
pub use load::{load_dir, load_dir_verified, load_split, locate_file, verify_file, MnistData};
pub use split::Split;
