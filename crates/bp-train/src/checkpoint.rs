//! Checkpoints: a net's parameters in a [safetensors] file, with the run's
//! config and seed as `__metadata__`.
//!
//! The tensors are named as in the book, `W1 b1 W2 b2 ...`, little-endian `F32`
//! or `F64`. The metadata holds:
//!
//! | key | value |
//! | --- | --- |
//! | `format` | [`CHECKPOINT_FORMAT`] |
//! | `config` | the [`TrainConfig`] as JSON |
//! | `seed` | the seed, in decimal |
//! | `sizes` | layer widths `[input, hidden..., classes]` as JSON |
//! | `dtype` | `F32` or `F64` |
//!
//! Files are written atomically: to a temporary file in the same directory,
//! flushed, then renamed over the destination, so a crash never leaves a partial
//! checkpoint under the final name. Loading checks every tensor's name, shape and
//! dtype against the metadata and rejects any mismatch.
//!
//! [safetensors]: https://github.com/huggingface/safetensors

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use bp_core::Float;
use bp_layers::MultiLayerNet;
use ndarray::{Array1, Array2};
use rand::SeedableRng;
use safetensors::tensor::{Dtype, Metadata, TensorView};
use safetensors::SafeTensors;

use crate::config::{Precision, TrainConfig};
use crate::error::{Result, TrainError};

/// Value of the `format` metadata key of checkpoints this crate writes.
pub const CHECKPOINT_FORMAT: &str = "bp-train/checkpoint-v1";

/// What a checkpoint's metadata says about the model in it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointInfo {
    /// The config of the run that produced it (its `seed` included).
    pub config: TrainConfig,
    /// Layer widths `[input, hidden..., classes]`.
    pub sizes: Vec<usize>,
    /// The float type of its tensors.
    pub precision: Precision,
}

/// A loaded checkpoint: the net and the config it was trained with.
#[derive(Debug, Clone)]
pub struct Checkpoint<F> {
    /// The config of the run that produced it (its `seed` included).
    pub config: TrainConfig,
    /// The net, ready to predict.
    pub net: MultiLayerNet<F>,
}

/// Tensor names of a net with `layers` Affine layers: `W1 b1 W2 b2 ...`.
pub fn tensor_names(layers: usize) -> Vec<String> {
    (1..=layers)
        .flat_map(|i| [format!("W{i}"), format!("b{i}")])
        .collect()
}

fn dtype_of(precision: Precision) -> Dtype {
    match precision {
        Precision::F32 => Dtype::F32,
        Precision::F64 => Dtype::F64,
    }
}

fn to_le_bytes<'a, F: Float>(values: impl Iterator<Item = &'a F>) -> Vec<u8> {
    let mut out = Vec::new();
    match Precision::of::<F>() {
        // `to_f64_exact` then `as f32` is exact: the value is an f32 to begin with.
        Precision::F32 => values.for_each(|v| out.extend((v.to_f64_exact() as f32).to_le_bytes())),
        Precision::F64 => values.for_each(|v| out.extend(v.to_f64_exact().to_le_bytes())),
    }
    out
}

fn from_le_bytes<F: Float>(bytes: &[u8]) -> Vec<F> {
    match Precision::of::<F>() {
        Precision::F32 => bytes
            .chunks_exact(4)
            .map(|c| F::of(f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))))
            .collect(),
        Precision::F64 => bytes
            .chunks_exact(8)
            .map(|c| F::of(f64::from_le_bytes(std::array::from_fn(|i| c[i]))))
            .collect(),
    }
}

/// Writes `net` and `config` to `path` as safetensors, atomically; creates the
/// parent directory if needed. `config` must describe `net` (hidden sizes and
/// activation).
pub fn save_checkpoint<F: Float>(
    path: &Path,
    net: &MultiLayerNet<F>,
    config: &TrainConfig,
) -> Result<()> {
    let sizes = net.sizes();
    if sizes[1..sizes.len() - 1] != config.hidden[..] || net.activation() != config.activation {
        return Err(TrainError::config(format!(
            "the config (hidden {:?}, {}) does not describe the net (sizes {sizes:?}, {})",
            config.hidden,
            config.activation,
            net.activation()
        )));
    }
    config.validate()?;
    let metadata: HashMap<String, String> = [
        ("format", CHECKPOINT_FORMAT.to_string()),
        ("config", to_json(config)),
        ("seed", config.seed.to_string()),
        ("sizes", to_json(&sizes)),
        ("dtype", F::DTYPE.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();

    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = net
        .params()
        .iter()
        .map(|p| {
            (
                p.name.to_string(),
                p.value.shape().to_vec(),
                to_le_bytes(p.value.iter()),
            )
        })
        .collect();
    let dtype = dtype_of(Precision::of::<F>());
    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(dtype, shape.clone(), bytes).map(|v| (name.as_str(), v))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|error| TrainError::Safetensors {
            path: path.to_path_buf(),
            error,
        })?;
    let bytes = safetensors::serialize(views, &Some(metadata)).map_err(|error| {
        TrainError::Safetensors {
            path: path.to_path_buf(),
            error,
        }
    })?;
    write_atomically(path, &with_sorted_header(bytes))
}

/// A safetensors file's bytes with the keys of its JSON header sorted. The
/// crate writes the metadata in a `HashMap`'s order, which changes from run to
/// run; sorted, the same net always gives the same file. The header's length
/// stays the same (the same JSON, reordered, padded with spaces as before).
fn with_sorted_header(mut bytes: Vec<u8>) -> Vec<u8> {
    let Some(len) = bytes
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .and_then(|b| usize::try_from(u64::from_le_bytes(b)).ok())
    else {
        return bytes;
    };
    let Some(header) = bytes.get_mut(8..8 + len) else {
        return bytes;
    };
    // serde_json's maps are sorted by key (its `preserve_order` feature is off).
    let sorted = serde_json::from_slice::<serde_json::Value>(header)
        .and_then(|value| serde_json::to_vec(&value));
    if let Ok(mut sorted) = sorted {
        if sorted.len() <= len {
            sorted.resize(len, b' ');
            header.copy_from_slice(&sorted);
        }
    }
    bytes
}

/// JSON text of a metadata value. Serialising these plain structs and vectors
/// cannot fail (the config is validated first, so it holds no NaN).
fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |what: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |error| TrainError::Io {
            path: p,
            what,
            error,
        }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(io("create the directory", &dir))?;
    let name = path
        .file_name()
        .ok_or_else(|| TrainError::config(format!("{}: not a file path", path.display())))?;
    let tmp = (0u32..)
        .map(|i| {
            let mut n = std::ffi::OsString::from(".");
            n.push(name);
            n.push(format!(".tmp-{}-{i}", std::process::id()));
            dir.join(n)
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| dir.join(".checkpoint.tmp"));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io("create a temporary file", &tmp))?;
        f.write_all(bytes).map_err(io("write", &tmp))?;
        f.sync_all().map_err(io("sync", &tmp))?;
        fs::rename(&tmp, path).map_err(io("rename into place", path))
    })();
    if result.is_err() {
        // Best effort: the error being returned matters more than a leftover temp file.
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn mismatch(path: &Path, problem: impl Into<String>) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|error| TrainError::Io {
        path: path.to_path_buf(),
        what: "read",
        error,
    })
}

/// Parses the header and checks the metadata; returns it with the header length.
fn parse_header(path: &Path, bytes: &[u8]) -> Result<(CheckpointInfo, usize, Metadata)> {
    let (n, header) =
        SafeTensors::read_metadata(bytes).map_err(|error| TrainError::Safetensors {
            path: path.to_path_buf(),
            error,
        })?;
    let meta = header
        .metadata()
        .as_ref()
        .ok_or_else(|| mismatch(path, "no __metadata__ (not a bp-train checkpoint?)"))?;
    let get = |key: &str| {
        meta.get(key)
            .ok_or_else(|| mismatch(path, format!("metadata has no `{key}` entry")))
    };
    let format = get("format")?;
    if format != CHECKPOINT_FORMAT {
        return Err(mismatch(
            path,
            format!("format is {format:?}, expected {CHECKPOINT_FORMAT:?}"),
        ));
    }
    let config: TrainConfig = serde_json::from_str(get("config")?).map_err(|e| {
        mismatch(
            path,
            format!("metadata `config` is not a valid config: {e}"),
        )
    })?;
    config
        .validate()
        .map_err(|e| mismatch(path, format!("metadata `config`: {e}")))?;
    let seed = get("seed")?;
    if seed.parse::<u64>().ok() != Some(config.seed) {
        return Err(mismatch(
            path,
            format!(
                "metadata `seed` {seed:?} disagrees with the config's seed {}",
                config.seed
            ),
        ));
    }
    let sizes: Vec<usize> = serde_json::from_str(get("sizes")?).map_err(|e| {
        mismatch(
            path,
            format!("metadata `sizes` is not a list of sizes: {e}"),
        )
    })?;
    if sizes.len() != config.hidden.len() + 2
        || sizes[1..sizes.len() - 1] != config.hidden[..]
        || sizes.contains(&0)
    {
        return Err(mismatch(
            path,
            format!(
                "metadata `sizes` {sizes:?} does not fit the config's hidden layers {:?}",
                config.hidden
            ),
        ));
    }
    let precision = match get("dtype")?.as_str() {
        "F32" => Precision::F32,
        "F64" => Precision::F64,
        other => {
            return Err(mismatch(
                path,
                format!("metadata `dtype` is {other:?}, expected F32 or F64"),
            ))
        }
    };
    let info = CheckpointInfo {
        config,
        sizes,
        precision,
    };
    Ok((info, n, header))
}

/// Reads only what a checkpoint's metadata says (config, sizes, precision), e.g.
/// to choose the float type to load it with.
pub fn read_checkpoint_info(path: &Path) -> Result<CheckpointInfo> {
    let bytes = read_bytes(path)?;
    parse_header(path, &bytes).map(|(info, _, _)| info)
}

/// Code generic over the float type, run by [`with_checkpoint`] on a checkpoint
/// whose float type is known only once the file is read.
pub trait CheckpointTask {
    /// What the task returns.
    type Output;
    /// Runs the task on the loaded checkpoint.
    fn run<F: Float>(self, checkpoint: Checkpoint<F>) -> Self::Output;
}

/// Loads the checkpoint at `path` in the float type it was saved in and runs
/// `task` on it: the one place that turns a file's dtype into a Rust type.
pub fn with_checkpoint<T: CheckpointTask>(path: &Path, task: T) -> Result<T::Output> {
    Ok(match read_checkpoint_info(path)?.precision {
        Precision::F32 => task.run(load_checkpoint::<f32>(path)?),
        Precision::F64 => task.run(load_checkpoint::<f64>(path)?),
    })
}

/// Loads a checkpoint written by [`save_checkpoint`] as a net of float type `F`.
///
/// Every tensor `W1 b1 ...` the metadata's sizes call for must be present, with
/// that shape and the metadata's dtype, which must be `F`'s; no other tensor may
/// be present, and every value must be finite.
pub fn load_checkpoint<F: Float>(path: &Path) -> Result<Checkpoint<F>> {
    let bytes = read_bytes(path)?;
    let (info, n, header) = parse_header(path, &bytes)?;
    let want = Precision::of::<F>();
    if info.precision != want {
        return Err(mismatch(
            path,
            format!(
                "it holds {} tensors but was loaded as {} (load it with precision {})",
                info.precision.dtype(),
                want.dtype(),
                info.precision
            ),
        ));
    }
    let layers = info.sizes.len() - 1;
    let expected: BTreeSet<String> = tensor_names(layers).into_iter().collect();
    let present = header.tensors();
    let present_names: BTreeSet<String> = present.keys().cloned().collect();
    if let Some(missing) = expected.difference(&present_names).next() {
        return Err(mismatch(path, format!("tensor {missing} is missing")));
    }
    if let Some(extra) = present_names.difference(&expected).next() {
        return Err(mismatch(
            path,
            format!("unexpected tensor {extra} (a {layers}-layer net has {expected:?})"),
        ));
    }
    let data = &bytes[8 + n..];
    let dtype = dtype_of(want);
    let tensor = |name: &str, shape: &[usize]| -> Result<Vec<F>> {
        let t = present[name];
        if t.dtype != dtype {
            return Err(mismatch(
                path,
                format!("tensor {name} has dtype {:?}, expected {dtype:?}", t.dtype),
            ));
        }
        if t.shape != shape {
            return Err(mismatch(
                path,
                format!("tensor {name} has shape {:?}, expected {shape:?}", t.shape),
            ));
        }
        let values: Vec<F> = from_le_bytes(&data[t.data_offsets.0..t.data_offsets.1]);
        if values.iter().any(|v| !v.is_finite()) {
            return Err(mismatch(
                path,
                format!("tensor {name} has non-finite values"),
            ));
        }
        Ok(values)
    };
    let sizes = &info.sizes;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut net = MultiLayerNet::new(
        sizes[0],
        &sizes[1..layers],
        sizes[layers],
        info.config.activation,
        F::zero(),
        &mut rng,
    )?;
    for (k, affine) in net.affines_mut().iter_mut().enumerate() {
        let (rows, cols) = (sizes[k], sizes[k + 1]);
        let w = tensor(&format!("W{}", k + 1), &[rows, cols])?;
        let b = tensor(&format!("b{}", k + 1), &[cols])?;
        affine.w = Array2::from_shape_vec((rows, cols), w)
            .map_err(|e| mismatch(path, format!("W{}: {e}", k + 1)))?;
        affine.b = Array1::from(b);
    }
    Ok(Checkpoint {
        config: info.config,
        net,
    })
}
