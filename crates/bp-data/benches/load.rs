//! Loading MNIST's training images (60000 x 28 x 28, 47 MB decompressed):
//!
//! - `read_idx_file_gz`: parse the gzip file, unverified (what `load_dir` does per
//!   file): decompressed straight into the final buffer.
//! - `verify_file_gz`: the streaming verifier (`fetch`'s check of a copy present):
//!   decompress and SHA-256, nothing kept.
//! - `read_idx_file_raw`: parse the uncompressed copy (what a raw copy beside the
//!   `.gz` saves).
//! - `load_dir` / `load_dir_verified` (raw and gzip first): all four files, two
//!   threads; the verified ones hash while reading.
//!
//! `cargo bench -p bp-data --bench load`. Reads the real MNIST from the product's
//! data directory (`$BP_DATA_DIR/mnist`, else `data/mnist` at the workspace root,
//! where `cargo xtask fetch-mnist` puts it) when present, so the verified loads
//! check the real checksums; otherwise it generates
//! a synthetic set of the same size and compressibility (19% non-zero pixels) in a
//! temporary directory and benches only the unverified readers and the
//! verifier's decompress-and-hash cost (with checksums of the synthetic files).

use std::hint::black_box;
use std::path::{Path, PathBuf};

use bp_data::idx::{self, IdxArray, IdxData};
use bp_data::{DataFile, Dataset, FileKind};
use criterion::{criterion_main, Criterion};
use sha2::{Digest, Sha256};

/// The fetched MNIST directory, if present.
fn fetched_mnist() -> Option<PathBuf> {
    let base = match std::env::var_os("BP_DATA_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data"),
    };
    let dir = base.join("mnist");
    dir.join("train-images-idx3-ubyte.gz")
        .is_file()
        .then_some(dir)
}

/// A generated MNIST-sized set: (name, raw IDX bytes) in `FileKind::ALL` order.
fn synthetic() -> Vec<(&'static str, Vec<u8>)> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut images = |n: usize| {
        let px: Vec<u8> = (0..n * 784)
            .map(|_| {
                let r = next();
                if r % 100 < 19 {
                    (r >> 32) as u8 | 1
                } else {
                    0
                }
            })
            .collect();
        IdxArray::new(vec![n, 28, 28], IdxData::U8(px)).expect("images")
    };
    let labels = |n: usize| {
        IdxArray::new(
            vec![n],
            IdxData::U8((0..n).map(|i| (i % 10) as u8).collect()),
        )
        .expect("labels")
    };
    let names = FileKind::ALL.map(FileKind::file_name);
    vec![
        (names[0], idx::encode(&images(60_000), false)),
        (names[1], idx::encode(&labels(60_000), false)),
        (names[2], idx::encode(&images(10_000), false)),
        (names[3], idx::encode(&labels(10_000), false)),
    ]
}

fn data_file(name: &'static str, raw: &[u8]) -> DataFile {
    let hex: String = Sha256::digest(raw)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    DataFile {
        name,
        sha256: Box::leak(hex.into_boxed_str()),
        size: raw.len() as u64,
    }
}

fn load(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let gz_dir = tmp.path().join("gz");
    let raw_dir = tmp.path().join("raw");
    std::fs::create_dir_all(&gz_dir).expect("mkdir");
    std::fs::create_dir_all(&raw_dir).expect("mkdir");
    let real = fetched_mnist();
    let set = match &real {
        Some(dir) => {
            eprintln!("load bench: MNIST from {}", dir.display());
            FileKind::ALL
                .iter()
                .map(|k| {
                    let a = idx::read_idx_file(&dir.join(format!("{}.gz", k.file_name())))
                        .expect("the fetched copy parses");
                    (k.file_name(), idx::encode(&a, false))
                })
                .collect()
        }
        None => {
            eprintln!("load bench: no fetched MNIST; a synthetic set of the same size");
            synthetic()
        }
    };
    for (name, raw) in &set {
        let gz = match &real {
            Some(dir) => std::fs::read(dir.join(format!("{name}.gz"))).expect("read"),
            None => idx::gzip_bytes(raw),
        };
        std::fs::write(gz_dir.join(format!("{name}.gz")), gz).expect("write");
        std::fs::write(raw_dir.join(name), raw).expect("write");
    }
    let train = data_file(set[0].0, &set[0].1);
    let train_gz = gz_dir.join(format!("{}.gz", train.name));
    let train_raw = raw_dir.join(train.name);
    drop(set);

    let mut g = c.benchmark_group("mnist_train_images");
    g.sample_size(20);
    g.bench_function("read_idx_file_gz", |b| {
        b.iter(|| idx::read_idx_file(black_box(&train_gz)).expect("parses"))
    });
    g.bench_function("verify_file_gz", |b| {
        b.iter(|| bp_data::verify_file(black_box(&train_gz), &train).expect("verifies"))
    });
    g.bench_function("read_idx_file_raw", |b| {
        b.iter(|| idx::read_idx_file(black_box(&train_raw)).expect("parses"))
    });
    g.finish();

    let mut g = c.benchmark_group("mnist_all_files");
    g.sample_size(20);
    g.bench_function("load_dir_gz", |b| {
        b.iter(|| bp_data::load_dir(black_box(&gz_dir), Dataset::Mnist).expect("loads"))
    });
    if real.is_some() {
        g.bench_function("load_dir_verified_gz", |b| {
            b.iter(|| {
                bp_data::load_dir_verified(black_box(&gz_dir), Dataset::Mnist, false)
                    .expect("verifies")
            })
        });
        g.bench_function("load_dir_verified_raw", |b| {
            b.iter(|| {
                bp_data::load_dir_verified(black_box(&raw_dir), Dataset::Mnist, true)
                    .expect("verifies")
            })
        });
    }
    g.finish();
}

mod group {
    #![allow(missing_docs)] // criterion's macro defines an undocumented `pub fn`
    criterion::criterion_group!(benches, super::load);
}
use group::benches;
criterion_main!(benches);
