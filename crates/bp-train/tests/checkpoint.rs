//! Checkpoints through the public API: round trips in both precisions, and an
//! error (never a panic, never a wrong model) for every mismatch or corruption.

mod common;

use std::collections::HashMap;
use std::path::Path;

use bp_train::{
    confusion_matrix, load_checkpoint, read_checkpoint_info, save_checkpoint, train,
    with_checkpoint, Activation, Checkpoint, CheckpointTask, Precision, TrainConfig, TrainError,
    CHECKPOINT_FORMAT,
};
use common::{data, train_test, CLASSES, WIDTH};
use safetensors::tensor::{Dtype, TensorView};

fn config() -> TrainConfig {
    TrainConfig {
        iters: 120,
        batch_size: 10,
        hidden: vec![16, 8],
        weight_init_std: 0.1,
        activation: Activation::Sigmoid,
        seed: 42,
        ..TrainConfig::default()
    }
}

#[test]
fn the_same_net_gives_the_same_file() {
    let (tr, te) = train_test(200);
    let d = data(&tr, &te);
    let config = TrainConfig {
        iters: 5,
        ..config()
    };
    let t = train::<f32>(&config, &d, &mut ()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<Vec<u8>> = (0..4)
        .map(|i| {
            let path = dir.path().join(format!("{i}.safetensors"));
            save_checkpoint(&path, &t.net, &config).unwrap();
            std::fs::read(&path).unwrap()
        })
        .collect();
    assert!(files.iter().all(|f| f == &files[0]));
    let path = dir.path().join("0.safetensors");
    let loaded = load_checkpoint::<f32>(&path).unwrap();
    assert_eq!(loaded.config, config);
    assert_eq!(loaded.net.params()[0].value, t.net.params()[0].value);
}

#[test]
fn round_trip_keeps_every_weight_and_the_accuracy() {
    let (tr, te) = train_test(600);
    let d = data(&tr, &te);
    let dir = tempfile::tempdir().unwrap();
    for precision in [Precision::F32, Precision::F64] {
        let path = dir
            .path()
            .join(format!("nested/dir/{precision}.safetensors"));
        let (before, after, acc_before, acc_after) = match precision {
            Precision::F32 => {
                let t = train::<f32>(&config(), &d, &mut ()).unwrap();
                save_checkpoint(&path, &t.net, &config()).unwrap();
                let c = load_checkpoint::<f32>(&path).unwrap();
                assert_eq!(c.config, config());
                let w = |n: &bp_train::MultiLayerNet<f32>| {
                    n.params()
                        .iter()
                        .map(|p| p.value.to_owned().mapv(f64::from))
                        .collect::<Vec<_>>()
                };
                let acc = |n| confusion_matrix(n, &d.test, CLASSES, 2).unwrap().accuracy();
                (w(&t.net), w(&c.net), acc(&t.net), acc(&c.net))
            }
            Precision::F64 => {
                let t = train::<f64>(&config(), &d, &mut ()).unwrap();
                save_checkpoint(&path, &t.net, &config()).unwrap();
                let c = load_checkpoint::<f64>(&path).unwrap();
                let w = |n: &bp_train::MultiLayerNet<f64>| {
                    n.params()
                        .iter()
                        .map(|p| p.value.to_owned())
                        .collect::<Vec<_>>()
                };
                let acc = |n| confusion_matrix(n, &d.test, CLASSES, 2).unwrap().accuracy();
                (w(&t.net), w(&c.net), acc(&t.net), acc(&c.net))
            }
        };
        assert_eq!(before, after, "{precision}: weights are bit-identical");
        assert_eq!(acc_before, acc_after);
        let info = read_checkpoint_info(&path).unwrap();
        assert_eq!(info.precision, precision);
        assert_eq!(info.sizes, vec![WIDTH, 16, 8, CLASSES]);
        assert_eq!(info.config.seed, 42);
        // Only the checkpoint is left in the directory: no temporary file.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| n.to_string_lossy().ends_with(".safetensors")),
            "{names:?}"
        );
    }
}

/// Reports the float type a checkpoint was loaded in and its first weight.
struct Probe;

impl CheckpointTask for Probe {
    type Output = (Precision, f64);

    fn run<F: bp_core::Float>(self, checkpoint: Checkpoint<F>) -> Self::Output {
        let first = checkpoint.net.params()[0].value[[0, 0]];
        (Precision::of::<F>(), first.to_f64().unwrap())
    }
}

#[test]
fn with_checkpoint_loads_in_the_files_precision() {
    let (tr, te) = train_test(200);
    let d = data(&tr, &te);
    let config = TrainConfig {
        iters: 5,
        ..config()
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let f32_net = train::<f32>(&config, &d, &mut ()).unwrap().net;
    let f64_net = train::<f64>(&config, &d, &mut ()).unwrap().net;
    save_checkpoint(&a, &f32_net, &config).unwrap();
    save_checkpoint(&b, &f64_net, &config).unwrap();
    let w32 = f64::from(f32_net.params()[0].value[[0, 0]]);
    let w64 = f64_net.params()[0].value[[0, 0]];
    assert_eq!(with_checkpoint(&a, Probe).unwrap(), (Precision::F32, w32));
    assert_eq!(with_checkpoint(&b, Probe).unwrap(), (Precision::F64, w64));
    let missing = with_checkpoint(&dir.path().join("none"), Probe).unwrap_err();
    assert!(matches!(missing, TrainError::Io { .. }), "{missing}");
}

#[test]
fn overwriting_a_checkpoint_replaces_it() {
    let (tr, te) = train_test(100);
    let d = data(&tr, &te);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    std::fs::write(&path, b"old junk").unwrap();
    let t = train::<f32>(&config(), &d, &mut ()).unwrap();
    save_checkpoint(&path, &t.net, &config()).unwrap();
    load_checkpoint::<f32>(&path).unwrap();
}

#[test]
fn saving_with_a_config_that_does_not_describe_the_net_is_an_error() {
    let (tr, te) = train_test(100);
    let t = train::<f32>(&config(), &data(&tr, &te), &mut ()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let other = TrainConfig {
        hidden: vec![16],
        ..config()
    };
    let err = save_checkpoint(&dir.path().join("m.safetensors"), &t.net, &other).unwrap_err();
    assert!(matches!(err, TrainError::Config(_)), "{err}");
}

/// A tensor to write by hand: name, dtype, shape, little-endian bytes.
type RawTensor = (&'static str, Dtype, Vec<usize>, Vec<u8>);

/// Writes a safetensors file by hand: `tensors` as `(name, dtype, shape, bytes)`.
fn write_raw(path: &Path, tensors: &[RawTensor], metadata: Option<HashMap<String, String>>) {
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (*n, TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    std::fs::write(path, safetensors::serialize(views, &metadata).unwrap()).unwrap();
}

fn f32_bytes(n: usize) -> Vec<u8> {
    (0..n)
        .flat_map(|i| (i as f32 * 1e-3).to_le_bytes())
        .collect()
}

/// The metadata of a `[4, 3, 2]` ReLU net, with `edit` applied.
fn metadata(edit: impl FnOnce(&mut HashMap<String, String>)) -> Option<HashMap<String, String>> {
    let config = TrainConfig {
        hidden: vec![3],
        ..TrainConfig::default()
    };
    let mut m: HashMap<String, String> = [
        ("format", CHECKPOINT_FORMAT.to_string()),
        ("config", serde_json::to_string(&config).unwrap()),
        ("seed", "0".to_string()),
        ("sizes", "[4,3,2]".to_string()),
        ("dtype", "F32".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    edit(&mut m);
    Some(m)
}

/// The four tensors of a `[4, 3, 2]` net in f32.
fn good_tensors() -> Vec<RawTensor> {
    vec![
        ("W1", Dtype::F32, vec![4, 3], f32_bytes(12)),
        ("b1", Dtype::F32, vec![3], f32_bytes(3)),
        ("W2", Dtype::F32, vec![3, 2], f32_bytes(6)),
        ("b2", Dtype::F32, vec![2], f32_bytes(2)),
    ]
}

fn load_err(path: &Path) -> String {
    let err = load_checkpoint::<f32>(path).expect_err("loading must fail");
    err.to_string()
}

#[test]
fn a_hand_written_good_file_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("good.safetensors");
    write_raw(&path, &good_tensors(), metadata(|_| {}));
    let c = load_checkpoint::<f32>(&path).unwrap();
    assert_eq!(c.net.sizes(), vec![4, 3, 2]);
    assert_eq!(c.net.affines()[0].w[[1, 0]], 3e-3);
}

#[test]
fn every_mismatch_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.safetensors");
    let cases: Vec<(&str, Vec<RawTensor>, _, &str)> = vec![
        (
            "missing tensor",
            good_tensors()[..3].to_vec(),
            metadata(|_| {}),
            "tensor b2 is missing",
        ),
        (
            "extra tensor",
            {
                let mut t = good_tensors();
                t.push(("W3", Dtype::F32, vec![2, 2], f32_bytes(4)));
                t
            },
            metadata(|_| {}),
            "unexpected tensor W3",
        ),
        (
            "wrong shape",
            {
                let mut t = good_tensors();
                t[0] = ("W1", Dtype::F32, vec![3, 4], f32_bytes(12));
                t
            },
            metadata(|_| {}),
            "tensor W1 has shape [3, 4], expected [4, 3]",
        ),
        (
            "wrong dtype",
            {
                let mut t = good_tensors();
                t[1] = ("b1", Dtype::F64, vec![3], vec![0; 24]);
                t
            },
            metadata(|_| {}),
            "tensor b1 has dtype F64, expected F32",
        ),
        (
            "half precision",
            {
                let mut t = good_tensors();
                t[3] = ("b2", Dtype::F16, vec![2], vec![0; 4]);
                t
            },
            metadata(|_| {}),
            "tensor b2 has dtype F16",
        ),
        (
            "non-finite value",
            {
                let mut t = good_tensors();
                t[3] = (
                    "b2",
                    Dtype::F32,
                    vec![2],
                    [f32::NAN, 0.0]
                        .iter()
                        .flat_map(|v| v.to_le_bytes())
                        .collect(),
                );
                t
            },
            metadata(|_| {}),
            "tensor b2 has non-finite values",
        ),
        ("no metadata", good_tensors(), None, "no __metadata__"),
        (
            "wrong format",
            good_tensors(),
            metadata(|m| {
                m.insert("format".into(), "something-else".into());
            }),
            "format is \"something-else\"",
        ),
        (
            "no config",
            good_tensors(),
            metadata(|m| {
                m.remove("config");
            }),
            "no `config` entry",
        ),
        (
            "bad config",
            good_tensors(),
            metadata(|m| {
                m.insert("config".into(), "{not json".into());
            }),
            "metadata `config` is not a valid config",
        ),
        (
            "sizes disagree with the config",
            good_tensors(),
            metadata(|m| {
                m.insert("sizes".into(), "[4,5,2]".into());
            }),
            "does not fit the config's hidden layers [3]",
        ),
        (
            "seed disagrees with the config",
            good_tensors(),
            metadata(|m| {
                m.insert("seed".into(), "7".into());
            }),
            "disagrees with the config's seed 0",
        ),
        (
            "unknown dtype",
            good_tensors(),
            metadata(|m| {
                m.insert("dtype".into(), "BF16".into());
            }),
            "metadata `dtype` is \"BF16\"",
        ),
        (
            "f64 file loaded as f32",
            good_tensors(),
            metadata(|m| {
                m.insert("dtype".into(), "F64".into());
            }),
            "holds F64 tensors but was loaded as F32",
        ),
    ];
    for (name, tensors, meta, expected) in cases {
        write_raw(&path, &tensors, meta);
        let msg = load_err(&path);
        assert!(msg.contains(expected), "{name}: {msg}");
        assert!(
            msg.contains("bad.safetensors"),
            "{name}: names the file: {msg}"
        );
    }
}

#[test]
fn corrupt_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.safetensors");
    write_raw(&good, &good_tensors(), metadata(|_| {}));
    let bytes = std::fs::read(&good).unwrap();
    let path = dir.path().join("corrupt.safetensors");
    let mut huge_header = bytes.clone();
    huge_header[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let mut bad_json = bytes.clone();
    bad_json[8] = b'[';
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("shorter than the length prefix", bytes[..5].to_vec()),
        ("truncated header", bytes[..40].to_vec()),
        ("truncated data", bytes[..bytes.len() - 3].to_vec()),
        ("trailing bytes", [bytes.as_slice(), &[0, 0, 0, 0]].concat()),
        ("huge header length", huge_header),
        ("header is not JSON", bad_json),
        (
            "text file",
            b"this is not a model at all, just some text".to_vec(),
        ),
    ];
    for (name, content) in cases {
        std::fs::write(&path, content).unwrap();
        let err = load_checkpoint::<f32>(&path).expect_err(name);
        assert!(
            matches!(err, TrainError::Safetensors { .. }),
            "{name}: {err}"
        );
        assert!(
            err.to_string().contains("corrupt.safetensors"),
            "{name}: {err}"
        );
        assert!(read_checkpoint_info(&path).is_err(), "{name}");
    }
    let err = load_checkpoint::<f32>(&dir.path().join("missing.safetensors"))
        .err()
        .unwrap();
    assert!(matches!(err, TrainError::Io { .. }), "{err}");
    let err = load_checkpoint::<f32>(dir.path()).err().unwrap();
    assert!(matches!(err, TrainError::Io { .. }), "a directory: {err}");
}
