//! The one-pass verified reader agrees with the streaming verifier.

use super::*;
use crate::idx::{encode, gzip_bytes, IdxData};
use crate::load::data_file_for;

/// Raw IDX bytes of `n` 28x28 images.
fn images(n: usize) -> Vec<u8> {
    let px = (0..n * 784).map(|i| (i % 7 * 37) as u8).collect();
    encode(
        &IdxArray::new(vec![n, 28, 28], IdxData::U8(px)).expect("valid"),
        false,
    )
}

#[test]
fn reads_what_verifies_and_refuses_what_does_not_with_the_same_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Below and above the size hashed on a helper thread.
    for n in [10, HASH_THREAD_MIN / 784 + 3] {
        let raw = images(n);
        let file = data_file_for("imgs", &raw);
        let mut flipped = raw.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let mut other_header = raw.clone();
        other_header[7] ^= 1; // first dimension: n +- 1
        let mut long = raw.clone();
        long.push(0);
        let gz = gzip_bytes(&raw);
        let variants: Vec<(&str, Vec<u8>, bool)> = vec![
            ("raw", raw.clone(), true),
            ("gz", gz.clone(), true),
            ("flipped", flipped.clone(), false),
            ("flipped.gz", gzip_bytes(&flipped), false),
            ("short", raw[..raw.len() - 1].to_vec(), false),
            ("short.gz", gzip_bytes(&raw[..raw.len() - 1]), false),
            ("long", long.clone(), false),
            ("long.gz", gzip_bytes(&long), false),
            ("header", other_header, false),
            ("truncated.gz", gz[..gz.len() / 2].to_vec(), false),
            ("html", b"<html><body>404</body></html>".to_vec(), false),
            ("empty", Vec::new(), false),
        ];
        for (what, bytes, good) in variants {
            let path = dir.path().join(what);
            std::fs::write(&path, &bytes).expect("write");
            let fast = read_verified(&path, &file);
            let slow = verify_file(&path, &file);
            match (fast, slow) {
                (Ok((array, gzip)), Ok(())) if good => {
                    assert_eq!(gzip, what.contains("gz"));
                    assert_eq!(
                        array,
                        idx::read_idx_file(&path).expect("parses"),
                        "{what} {n}"
                    );
                }
                (Err(fast), Err(slow)) if !good => {
                    assert_eq!(fast.to_string(), slow.to_string(), "{what} {n}");
                }
                (fast, slow) => panic!("{what} {n}: {fast:?} vs {slow:?}"),
            }
        }
    }
    let missing = read_verified(&dir.path().join("nope"), &data_file_for("x", b""));
    assert!(matches!(missing, Err(DataError::Missing { .. })));
}

#[test]
fn load_dir_verified_checks_checksums() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A generated set loads unverified, but is not MNIST.
    for (kind, n) in FileKind::ALL.iter().zip([20usize, 20, 10, 10]) {
        let bytes = if matches!(kind, FileKind::TrainImages | FileKind::TestImages) {
            images(n)
        } else {
            encode(
                &IdxArray::new(vec![n], IdxData::U8(vec![1; n])).expect("valid"),
                false,
            )
        };
        std::fs::write(dir.path().join(kind.file_name()), bytes).expect("write");
    }
    load_dir(dir.path(), Dataset::Mnist).expect("loads unverified");
    let e = load_dir_verified(dir.path(), Dataset::Mnist, true).expect_err("not MNIST");
    assert!(matches!(e, DataError::Verify { .. }), "{e}");
    assert!(e.to_string().contains("train-images-idx3-ubyte"), "{e}");
    std::fs::remove_file(dir.path().join("t10k-labels-idx1-ubyte")).expect("remove");
    let e = load_dir_verified(dir.path(), Dataset::Mnist, false).expect_err("missing");
    assert!(
        matches!(e, DataError::Verify { .. } | DataError::Missing { .. }),
        "{e}"
    );
}
