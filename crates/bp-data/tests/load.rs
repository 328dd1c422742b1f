//! `load_dir`, `Split` and `Dataset` on generated data sets, including every way
//! a directory of files can be wrong.

mod common;

use std::path::Path;

use bp_data::idx::{self, IdxArray, IdxData};
use bp_data::{load_dir, DataError, Dataset, FileKind, IdxError, Split};
use common::{generated_set, labels, write_set};
use ndarray::Array2;

fn load_err(dir: &Path) -> DataError {
    match load_dir(dir, Dataset::Mnist) {
        Ok(_) => panic!("{} loaded but should not", dir.display()),
        Err(e) => e,
    }
}

/// Asserts `e` names `file` (a path ending in it) and says `problem`.
fn assert_names(e: &DataError, file: &str, problem: &str) {
    let msg = e.to_string();
    assert!(msg.contains(file), "message does not name {file}: {msg}");
    assert!(
        msg.contains(problem),
        "message does not say {problem:?}: {msg}"
    );
}

#[test]
fn loads_generated_gzip_and_raw_sets() {
    for gzip in [true, false] {
        let dir = tempfile::tempdir().expect("tempdir");
        write_set(dir.path(), &generated_set(50, 20), gzip);
        let data = load_dir(dir.path(), Dataset::FashionMnist).expect("load");
        assert_eq!(data.dataset, Dataset::FashionMnist);
        assert_eq!((data.train.len(), data.test.len()), (50, 20));
        assert_eq!(
            (
                data.train.rows(),
                data.train.cols(),
                data.train.image_size()
            ),
            (28, 28, 784)
        );
        assert_eq!(
            data.train.labels()[..12],
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
        );
        assert_eq!(data.test.labels()[0], 3);
        assert_eq!(data.train.images().row(1)[0], (784u32 * 31 + 1) as u8);
        assert_eq!(data.train.label_counts(), vec![5; 10]);
    }
}

#[test]
fn gzip_is_detected_from_bytes_not_names() {
    // Raw bytes under the .gz name, gzip bytes under the raw name.
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, raw) in generated_set(5, 5) {
        if name.starts_with("train") {
            std::fs::write(dir.path().join(format!("{name}.gz")), &raw).expect("write");
        } else {
            std::fs::write(dir.path().join(name), idx::gzip_bytes(&raw)).expect("write");
        }
    }
    let data = load_dir(dir.path(), Dataset::Mnist).expect("load");
    assert_eq!(data.train.len() + data.test.len(), 10);
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut set = generated_set(5, 5);
    set.remove(3);
    write_set(dir.path(), &set, true);
    let e = load_err(dir.path());
    assert!(matches!(e, DataError::Missing { .. }), "{e:?}");
    assert_names(&e, "t10k-labels-idx1-ubyte.gz", "file not found");
    assert!(e.to_string().contains("nor "), "{e}");
    let e = load_err(&dir.path().join("no-such-dir"));
    assert_names(&e, "train-images-idx3-ubyte.gz", "not found");
}

#[test]
fn image_and_label_counts_differ() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut set = generated_set(5, 5);
    set[1].1 = idx::encode(&labels(4, 0), false);
    write_set(dir.path(), &set, true);
    let e = load_err(dir.path());
    assert!(
        matches!(
            e,
            DataError::CountMismatch {
                images: 5,
                labels: 4,
                ..
            }
        ),
        "{e:?}"
    );
    assert_names(&e, "train-labels-idx1-ubyte", "holds 5 images but");
    assert_names(&e, "train-images-idx3-ubyte", "4 labels");
}

#[test]
fn label_out_of_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut set = generated_set(5, 5);
    let bad = IdxArray::new(vec![5], IdxData::U8(vec![1, 2, 10, 3, 4])).expect("valid");
    set[3].1 = idx::encode(&bad, false);
    write_set(dir.path(), &set, true);
    let e = load_err(dir.path());
    assert!(matches!(e, DataError::Invalid { .. }), "{e:?}");
    assert_names(
        &e,
        "t10k-labels-idx1-ubyte.gz",
        "label 10 at index 2 is out of range",
    );
}

#[test]
fn wrong_image_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut set = generated_set(5, 5);
    let small = IdxArray::new(vec![5, 32, 32], IdxData::U8(vec![0; 5 * 32 * 32])).expect("valid");
    set[0].1 = idx::encode(&small, false);
    write_set(dir.path(), &set, true);
    let e = load_err(dir.path());
    assert_names(
        &e,
        "train-images-idx3-ubyte.gz",
        "wrong image size: images are 32x32",
    );
}

#[test]
fn wrong_rank_or_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut set = generated_set(5, 5);
    // Images and labels swapped.
    let test_images = std::mem::take(&mut set[2].1);
    set[2].1 = std::mem::replace(&mut set[3].1, test_images);
    write_set(dir.path(), &set, true);
    let e = load_err(dir.path());
    assert_names(
        &e,
        "t10k-images-idx3-ubyte.gz",
        "expected images as a rank-3 u8 array",
    );

    let mut set = generated_set(5, 5);
    let ints = IdxArray::new(vec![5], IdxData::I32(vec![1; 5])).expect("valid");
    set[1].1 = idx::encode(&ints, false);
    write_set(dir.path(), &set, true);
    let e = load_err(dir.path());
    assert_names(&e, "train-labels-idx1-ubyte.gz", "rank-1 i32 array");
}

/// Every damaged-file case through `load_dir`: the error names the file and the problem.
#[test]
fn damaged_files_name_file_and_problem() {
    let good = generated_set(5, 5);
    let labels_raw = good[1].1.clone();
    let labels_gz = idx::gzip_bytes(&labels_raw);
    let n = labels_gz.len();
    let mut crc = labels_gz.clone();
    crc[n - 8] ^= 0x55;
    let mut longer = labels_raw.clone();
    longer.push(0);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty file", vec![], "empty file"),
        (
            "truncated header",
            labels_raw[..6].to_vec(),
            "truncated header: 6 bytes",
        ),
        (
            "html",
            b"<!DOCTYPE html><title>403</title>".to_vec(),
            "HTML",
        ),
        (
            "double gzip",
            idx::gzip_bytes(&labels_gz),
            "still gzip-compressed",
        ),
        (
            "unknown type",
            vec![0, 0, 0x07, 1, 0, 0, 0, 0],
            "unknown element type code 0x07",
        ),
        ("rank 0", vec![0, 0, 8, 0], "rank 0"),
        (
            "overflow",
            vec![
                0, 0, 0x0e, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
            ],
            "overflow",
        ),
        (
            "payload short",
            labels_raw[..10].to_vec(),
            "payload truncated",
        ),
        ("payload long", longer, "1 unexpected bytes after"),
        (
            "truncated gzip",
            labels_gz[..n - 5].to_vec(),
            "truncated gzip",
        ),
        ("crc", crc, "corrupt gzip stream"),
    ];
    for (what, bytes, problem) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        write_set(dir.path(), &good, false);
        std::fs::write(dir.path().join(FileKind::TrainLabels.file_name()), &bytes).expect("write");
        let e = load_err(dir.path());
        assert!(matches!(e, DataError::Idx { .. }), "{what}: {e:?}");
        assert_names(&e, "train-labels-idx1-ubyte", problem);
        assert_eq!(
            e.path().map(|p| p.ends_with("train-labels-idx1-ubyte")),
            Some(true),
            "{what}"
        );
    }
}

#[test]
fn split_views() {
    let split =
        Split::new(vec![0, 51, 102, 255, 255, 0, 0, 255], vec![2, 9], 2, 2, 10).expect("valid");
    assert_eq!((split.len(), split.image_size()), (2, 4));
    assert!(!split.is_empty());
    let x = split.to_f32(true);
    assert_eq!(x.dim(), (2, 4));
    assert!((x[[0, 1]] - 0.2).abs() < 1e-7 && x[[0, 3]] == 1.0 && x[[1, 1]] == 0.0);
    assert!(x.iter().all(|&v| (0.0..=1.0).contains(&v)));
    assert_eq!(split.to_f64(false)[[0, 2]], 102.0);
    let nchw = split.to_float_nchw::<f32>(true);
    assert_eq!(nchw.dim(), (2, 1, 2, 2));
    assert_eq!(nchw[[1, 0, 0, 0]], 1.0);
    assert_eq!(split.images_3d().dim(), (2, 2, 2));
    assert_eq!(split.image(1).expect("image 1")[[1, 1]], 255);
    assert!(split.image(2).is_none());
    let t = split.one_hot::<f32>();
    assert_eq!(t.dim(), (2, 10));
    assert_eq!((t[[0, 2]], t[[1, 9]], t.sum()), (1.0, 1.0, 2.0));
    assert_eq!(split.labels_usize(), [2, 9]);
    assert_eq!(split.head(1).labels(), [2]);
    assert_eq!(split.head(9).len(), 2);
    let s = split.select(&[1, 1, 0]).expect("select");
    assert_eq!(s.labels(), [9, 9, 2]);
    assert_eq!(s.images().row(2).to_vec(), [0, 51, 102, 255]);
    // The raw view is zero-copy.
    assert_eq!(split.images().as_ptr(), split.image_bytes().as_ptr());
}

#[test]
fn gather_into_reuses_buffers() {
    let split =
        Split::new((0..=255).chain(0..=255).collect(), vec![1, 7], 16, 16, 10).expect("valid");
    let mut x = Array2::<f64>::zeros((0, 0));
    let mut y = Vec::new();
    split
        .gather_into(&[1, 0, 1], &mut x, &mut y)
        .expect("gather");
    assert_eq!(x.dim(), (3, 256));
    assert_eq!(y, [7, 1, 7]);
    assert_eq!(x[[0, 255]], 1.0);
    assert!((x[[1, 51]] - 0.2).abs() < 1e-12);
    let ptr = x.as_ptr();
    split
        .gather_into(&[0, 0, 1], &mut x, &mut y)
        .expect("gather");
    assert_eq!(x.as_ptr(), ptr, "same-shaped buffer is reused");
    assert_eq!(y, [1, 1, 7]);
    let mut t = Array2::<f32>::ones((2, 10));
    split.gather_one_hot_into(&[1, 0], &mut t).expect("one-hot");
    assert_eq!(t.sum(), 2.0);
    assert_eq!((t[[0, 7]], t[[1, 1]]), (1.0, 1.0));

    let e = split
        .gather_into(&[0, 2], &mut x, &mut y)
        .expect_err("out of range");
    assert!(
        e.to_string()
            .contains("index 2 at position 1 is out of range"),
        "{e}"
    );
    assert!(split.select(&[5]).is_err());
    assert!(split.gather_one_hot_into(&[9], &mut t).is_err());
}

#[test]
fn split_new_checks_its_input() {
    assert!(Split::new(vec![0; 8], vec![0, 1], 2, 2, 10).is_ok());
    assert!(Split::new(vec![0; 7], vec![0, 1], 2, 2, 10).is_err());
    let e = Split::new(vec![0; 8], vec![0, 10], 2, 2, 10).expect_err("label 10");
    assert!(e.to_string().contains("label 10 at index 1"), "{e}");
    assert!(Split::new(vec![], vec![], 0, 2, 10).is_err());
    assert!(Split::new(vec![], vec![], 28, 28, 10)
        .expect("empty split")
        .is_empty());
}

#[test]
fn datasets() {
    assert_eq!(Dataset::ALL.len(), 2);
    for d in Dataset::ALL {
        assert_eq!(d.name().parse::<Dataset>().ok(), Some(d));
        assert_eq!(d.to_string(), d.name());
        assert_eq!(d.class_names().len(), 10);
        assert_eq!(d.num_classes(), 10);
        assert_eq!(d.files().len(), 4);
        assert!(d.files().iter().all(|f| f.sha256.len() == 64));
        assert!(d.default_mirrors().iter().all(|m| !m.contains("lecun")));
        assert_eq!(d.file(FileKind::TestLabels).size, 10_008);
    }
    assert_eq!(Dataset::Mnist.name(), "mnist");
    assert_eq!(Dataset::FashionMnist.name(), "fashion-mnist");
    assert_eq!(Dataset::FashionMnist.class_names()[9], "Ankle boot");
    assert_eq!(Dataset::Mnist.class_names()[3], "3");
    assert_eq!(
        "Fashion_MNIST".parse::<Dataset>().ok(),
        Some(Dataset::FashionMnist)
    );
    let e = "cifar".parse::<Dataset>().expect_err("unknown");
    assert_eq!(
        e.to_string(),
        "unknown data set `cifar`; valid names: mnist, fashion-mnist"
    );
    assert!(matches!(
        IdxError::WrongType {
            expected: idx::IdxType::U8,
            found: idx::IdxType::F32
        }
        .to_string()
        .as_str(),
        "element type is f32, expected u8"
    ));
}

#[test]
fn verify_file_checks_size_and_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = idx::encode(&labels(30, 0), false);
    let f = common::data_file("labels", &raw);
    let p = dir.path().join("labels.gz");
    std::fs::write(&p, idx::gzip_bytes(&raw)).expect("write");
    bp_data::verify_file(&p, &f).expect("verifies");
    let mut other = raw.clone();
    other[20] ^= 1;
    std::fs::write(&p, idx::gzip_bytes(&other)).expect("write");
    let e = bp_data::verify_file(&p, &f).expect_err("hash");
    assert!(matches!(e, DataError::Verify { .. }));
    assert_names(&e, "labels.gz", "SHA-256 of the decompressed bytes is");
    std::fs::write(&p, &raw[..raw.len() - 1]).expect("write");
    let e = bp_data::verify_file(&p, &f).expect_err("size");
    assert_names(
        &e,
        "labels.gz",
        "decompressed size is 37 bytes, labels has 38 bytes",
    );
    let mut long = raw.clone();
    long.push(0);
    std::fs::write(&p, &long).expect("write");
    let e = bp_data::verify_file(&p, &f).expect_err("size");
    assert_names(&e, "labels.gz", "more than 38");
}
