//! The real data sets, through the real code: fetched once into the tests' cache
//! (from `$BP_MIRROR` or the public mirrors), fetched again from that cache as a
//! local mirror, loaded, and checked against the published facts (SHA-256 sums,
//! first labels, class counts). Data that cannot be had fails these tests.

#![cfg(feature = "download")]

mod common;

use bp_data::fetch::{fetch, FetchEvent, FetchOptions, FileOutcome, Mirror};
use bp_data::{load_dir, Dataset, MnistData};

/// Fetches `dataset` from its local mirror into a fresh directory, checks the
/// report, fetches again (nothing to do), and loads it.
fn fetch_and_load(dataset: Dataset) -> MnistData {
    let mirror = common::real_data(dataset);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dest = tmp.path().join(dataset.name());
    let opts = FetchOptions {
        mirrors: vec![Mirror::Dir(mirror.clone())],
        default_mirrors: false,
        ..FetchOptions::default()
    };
    let report = fetch(dataset, &dest, &opts, &mut |_| {}).expect("fetch from the local mirror");
    assert_eq!(report.fetched_count(), 4);
    for f in &report.files {
        assert!(
            matches!(&f.outcome, FileOutcome::Fetched { mirror: Mirror::Dir(d), .. } if *d == mirror),
            "{f:?}"
        );
        assert_eq!(f.path, dest.join(format!("{}.gz", f.file)));
    }
    let mut events = Vec::new();
    let again = fetch(dataset, &dest, &opts, &mut |e| events.push(e)).expect("second fetch");
    assert!(again.nothing_fetched(), "{again:?}");
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, FetchEvent::AlreadyVerified { .. }))
            .count(),
        4
    );
    let data = load_dir(&dest, dataset).expect("load the fetched copy");
    assert_eq!(data.dataset, dataset);
    for split in [&data.train, &data.test] {
        assert_eq!(
            (split.rows(), split.cols(), split.image_size()),
            (28, 28, 784)
        );
        assert_eq!(split.images().dim(), (split.len(), 784));
        assert_eq!(split.num_classes(), 10);
    }
    assert_eq!((data.train.len(), data.test.len()), (60_000, 10_000));
    data
}

#[test]
fn mnist_facts() {
    let data = fetch_and_load(Dataset::Mnist);
    assert_eq!(data.train.labels()[..10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(data.test.labels()[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    assert_eq!(
        data.train.label_counts(),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        data.test.label_counts(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // Pixels span 0..=255 and the background is black.
    let img = data.train.images();
    assert_eq!(img.iter().copied().max(), Some(255));
    assert_eq!(img[[0, 0]], 0);
    // The book's views: normalised floats in [0, 1], one-hot labels.
    let mut x = ndarray::Array2::<f32>::zeros((0, 0));
    let mut y = Vec::new();
    data.train
        .gather_into(&[0, 1, 59_999], &mut x, &mut y)
        .expect("gather");
    assert_eq!(x.dim(), (3, 784));
    assert!(x.iter().all(|&v| (0.0..=1.0).contains(&v)));
    assert_eq!(y[..2], [5, 0]);
    let t = data.test.one_hot::<f32>();
    assert_eq!(t.dim(), (10_000, 10));
    assert_eq!(t.row(0)[7], 1.0);
}

#[test]
fn fashion_mnist_facts() {
    let data = fetch_and_load(Dataset::FashionMnist);
    assert_eq!(data.train.labels()[..10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assert_eq!(data.test.labels()[..10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    // Fashion-MNIST is balanced.
    assert_eq!(data.train.label_counts(), [6000; 10]);
    assert_eq!(data.test.label_counts(), [1000; 10]);
    assert_eq!(
        Dataset::FashionMnist.class_names()[data.train.labels()[0] as usize],
        "Ankle boot"
    );
}

#[test]
fn cached_copies_verify_and_load_in_place() {
    for dataset in Dataset::ALL {
        let dir = common::real_data(dataset);
        for f in dataset.files() {
            let path = bp_data::locate_file(&dir, f.name).expect("present");
            bp_data::verify_file(&path, f).expect("matches the README's SHA-256");
        }
    }
    // The other set's checksums do not match.
    let path = bp_data::locate_file(&common::real_data(Dataset::Mnist), "t10k-labels-idx1-ubyte")
        .expect("present");
    let e = bp_data::verify_file(&path, &Dataset::FashionMnist.files()[3]).expect_err("wrong set");
    assert!(e.to_string().contains("SHA-256"), "{e}");
}

#[test]
fn mnist_fetch_and_load_one_pass_with_raw_copies() {
    let mirror = common::real_data(Dataset::Mnist);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dest = tmp.path().join("mnist");
    let opts = FetchOptions {
        mirrors: vec![Mirror::Dir(mirror.clone())],
        default_mirrors: false,
        raw_copy: true,
        ..FetchOptions::default()
    };
    let expected = load_dir(&mirror, Dataset::Mnist).expect("the cached copy loads");
    let (report, data) = bp_data::fetch::fetch_and_load(Dataset::Mnist, &dest, &opts, &mut |_| {})
        .expect("fetch and load");
    assert_eq!(report.fetched_count(), 4);
    assert_eq!(data, expected);
    // Later loads read the verified raw copies, verifying them again.
    let (report, data) =
        bp_data::fetch::fetch_and_load(Dataset::Mnist, &dest, &opts, &mut |_| {}).expect("again");
    assert!(report.nothing_fetched());
    assert!(report.files.iter().all(|f| f.path == dest.join(f.file)));
    assert_eq!(data, expected);
    assert_eq!(
        bp_data::load_dir_verified(&dest, Dataset::Mnist, false).expect("verified"),
        expected
    );
}

/// MNIST's own digits are already prepared: `prepare_digit` gives them back
/// (nearly) unchanged, which pins its conventions to MNIST's (ink 255, a box of
/// 20 on the longer side, centre of mass at index 14).
#[test]
fn mnist_test_digits_come_back_through_prepare_digit() {
    use bp_data::digit::prepare_digit;
    let data = load_dir(&common::real_data(Dataset::Mnist), Dataset::Mnist).expect("load");
    let n = 2000;
    let (mut total, mut same, mut worst) = (0u64, 0usize, (0u64, 0usize));
    for i in 0..n {
        let img = data.test.image(i).expect("in range");
        let pixels = img.as_slice().expect("contiguous");
        let back = prepare_digit(pixels, 28, 28).unwrap_or_else(|e| panic!("digit {i}: {e}"));
        let diff: u64 = pixels
            .iter()
            .zip(&back)
            .map(|(&a, &b)| u64::from(a.abs_diff(b)))
            .sum();
        total += diff;
        // A digit whose centre of mass sat near a half pixel may move by one.
        same += usize::from(diff <= 784);
        worst = worst.max((diff, i));
    }
    let mean = total as f64 / (n * 784) as f64;
    assert!(
        mean < 0.5,
        "mean absolute difference {mean:.3} of 255 (worst: digit {} by {})",
        worst.1,
        worst.0
    );
    assert!(
        same * 100 >= n * 97,
        "only {same} of {n} came back within 1 grey level per pixel"
    );
}
