//! End to end: `cargo xtask predict` on pictures made from MNIST's test digits
//! the way a user's own would differ from them (larger, dark ink on light paper,
//! grey, off-centre, PNG and JPEG), and on files that are no digit at all.
//!
//! One short training run (2000 iterations) per test process makes the model.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use bp_tests::{assert_success, real_data, stderr, stdout, xtask};
use image::{GrayImage, ImageFormat};
use serde_json::Value;

/// Scratch space of these tests (cargo's per-target temporary folder).
fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("predict")
}

/// The data options of a command (MNIST in the tests' cache), and the
/// directory that holds the data set's files.
fn data_options() -> (Vec<String>, PathBuf) {
    let data_dir = real_data("mnist");
    let args = vec![
        "--dataset".into(),
        "mnist".into(),
        "--data-dir".into(),
        data_dir.display().to_string(),
    ];
    (args, data_dir.join("mnist"))
}

/// The model of the short training run, and its test accuracy from metrics.json.
struct Model {
    path: PathBuf,
    test_acc: f64,
}

fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        // A fixed directory (a static is never dropped, so a TempDir would stay behind).
        let out = scratch().join("model");
        let _ = std::fs::remove_dir_all(&out);
        let mut args: Vec<String> = vec!["train".into(), "--iters".into(), "2000".into()];
        args.push("--quiet".into());
        args.extend(data_options().0);
        args.extend(["--out".into(), out.display().to_string()]);
        assert_success("the training run", &xtask(&args));
        let metrics = out.join("metrics.json");
        let text = std::fs::read_to_string(&metrics)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", metrics.display()));
        let m: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", metrics.display()));
        let test_acc = m["final_test_acc"].as_f64().expect("final_test_acc");
        Model {
            path: out.join("model.safetensors"),
            test_acc,
        }
    })
}

/// A fresh, empty directory under the scratch space, removed when dropped.
fn fresh_dir(name: &str) -> tempfile::TempDir {
    std::fs::create_dir_all(scratch()).expect("create the scratch directory");
    tempfile::Builder::new()
        .prefix(&format!("{name}-"))
        .tempdir_in(scratch())
        .expect("create a scratch directory")
}

/// `cargo xtask predict --model <model> [extra] <images>`.
fn predict(extra: &[&str], images: &[PathBuf]) -> Output {
    let mut args = vec![
        "predict".to_string(),
        "--model".into(),
        model().path.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(images.iter().map(|p| p.display().to_string()));
    xtask(&args)
}

/// A 28x28 MNIST digit (ink 255 on 0) as a user's picture of it: three times
/// larger (bilinear), on a `canvas` at `offset`; either dark grey ink on white
/// paper or light grey ink on a dark background.
fn as_photo(
    digit: &[u8],
    dark_on_light: bool,
    canvas: (u32, u32),
    offset: (i64, i64),
) -> GrayImage {
    let small = GrayImage::from_raw(28, 28, digit.to_vec()).expect("28 x 28");
    let big = image::imageops::resize(&small, 84, 84, image::imageops::FilterType::Triangle);
    let (paper, ink) = if dark_on_light {
        (250.0, 60.0)
    } else {
        (15.0, 190.0)
    };
    let mut page = GrayImage::from_pixel(canvas.0, canvas.1, image::Luma([paper as u8]));
    let tinted = GrayImage::from_fn(84, 84, |x, y| {
        let v = f64::from(big.get_pixel(x, y)[0]) / 255.0;
        image::Luma([(paper + v * (ink - paper)).round() as u8])
    });
    image::imageops::replace(&mut page, &tinted, offset.0, offset.1);
    page
}

#[test]
fn predicts_pictures_of_test_digits_about_as_well_as_the_test_set() {
    let model = model();
    let (_, data_dir) = data_options();
    let data = bp_data::load_dir(&data_dir, bp_data::Dataset::Mnist)
        .unwrap_or_else(|e| panic!("load the fetched copy: {e}"));
    let dir = fresh_dir("photos");
    let n = 2500;
    let step = data.test.len() / n;
    let mut files = Vec::with_capacity(n);
    let mut labels = std::collections::HashMap::new();
    for k in 0..n {
        let i = k * step;
        let digit = data.test.image(i).expect("in range");
        let digit = digit.as_slice().expect("contiguous");
        // The canvas is 120 x 90; the digit's 84 x 84 square lands anywhere on it
        // (in steps, so that every style meets every place).
        let offset = ((k * 7 % 37) as i64, (k * 5 % 7) as i64);
        let photo = as_photo(digit, k % 2 == 0, (120, 90), offset);
        let (ext, format) = if k % 4 < 2 {
            ("png", ImageFormat::Png)
        } else {
            ("jpg", ImageFormat::Jpeg)
        };
        let path = dir.path().join(format!("test-{i:05}.{ext}"));
        photo
            .save_with_format(&path, format)
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        labels.insert(
            path.display().to_string(),
            usize::from(data.test.labels()[i]),
        );
        files.push(path);
    }

    let o = predict(&["--json"], &files);
    assert_success("predict --json", &o);
    let text = stdout(&o);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), n, "one JSON line per image");
    let mut correct = 0;
    for (line, path) in lines.iter().zip(&files) {
        assert!(
            line.starts_with("{\"file\":"),
            "keys in the documented order: {line}"
        );
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(
            v["file"].as_str(),
            Some(path.display().to_string().as_str()),
            "in order"
        );
        let class = v["class"].as_u64().expect("a class") as usize;
        let probs: Vec<f64> = v["probs"]
            .as_array()
            .expect("probs")
            .iter()
            .map(|p| p.as_f64().expect("a probability"))
            .collect();
        assert_eq!(probs.len(), 10, "{line}");
        let sum: f64 = probs.iter().sum();
        assert!(
            (sum - 1.0).abs() < 1e-4,
            "probabilities sum to {sum}: {line}"
        );
        assert!(probs.iter().all(|p| (0.0..=1.0).contains(p)), "{line}");
        let best = probs.iter().copied().fold(f64::MIN, f64::max);
        assert_eq!(probs[class], best, "the class is the most probable: {line}");
        correct += usize::from(labels[&path.display().to_string()] == class);
    }
    let acc = correct as f64 / n as f64;
    eprintln!(
        "predict on {n} pictures: accuracy {acc:.4}; the model's test accuracy {:.4}",
        model.test_acc
    );
    assert!(
        model.test_acc > 0.9,
        "the model is too weak to tell: test accuracy {}",
        model.test_acc
    );
    assert!(
        (acc - model.test_acc).abs() <= 0.02,
        "accuracy on the pictures {acc:.4} is not within 2 points of the test accuracy {:.4}",
        model.test_acc
    );
}

#[test]
fn bad_files_are_named_on_stderr_and_the_good_ones_still_answered() {
    let (_, data_dir) = data_options();
    // The model's run fetched the data; the first test digit is a 7.
    let _ = model();
    let data = bp_data::load_dir(&data_dir, bp_data::Dataset::Mnist)
        .unwrap_or_else(|e| panic!("load the fetched copy: {e}"));
    assert_eq!(data.test.labels()[0], 7);
    let dir = fresh_dir("bad");
    let good = dir.path().join("seven.png");
    let seven = data.test.image(0).expect("digit 0");
    as_photo(
        seven.as_slice().expect("contiguous"),
        true,
        (100, 100),
        (8, 8),
    )
    .save(&good)
    .expect("write seven.png");
    let text = dir.path().join("x.png");
    std::fs::write(&text, "not a picture\n").expect("write x.png");
    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, b"").expect("write empty.jpg");
    let white = dir.path().join("white.png");
    GrayImage::from_pixel(40, 40, image::Luma([255]))
        .save(&white)
        .expect("write white.png");
    let missing = dir.path().join("missing.png");

    let o = predict(
        &[],
        &[
            text.clone(),
            good.clone(),
            empty.clone(),
            white.clone(),
            missing.clone(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = stderr(&o);
    for (path, why) in [
        (&text, "not a PNG or JPEG image"),
        (&empty, "empty"),
        (&white, "no ink"),
        (&missing, "not found"),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(&path.display().to_string()))
            .unwrap_or_else(|| panic!("{} not named on stderr:\n{err}", path.display()));
        assert!(line.contains(why), "{line}");
    }
    assert!(err.contains("4 of 5 images could not be read"), "{err}");
    let out = stdout(&o);
    assert_eq!(
        out.lines().count(),
        1,
        "only the good image is answered:\n{out}"
    );
    let line = out.lines().next().unwrap_or_default();
    assert!(
        line.starts_with(&format!("{}: 7 (p ", good.display())),
        "{line}"
    );
    assert_eq!(line.matches(':').count(), 11, "ten probabilities: {line}");

    // All good: exit 0. No image at all: a usage error.
    assert_success("predict on one good image", &predict(&[], &[good]));
    let o = predict(&[], &[]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(stderr(&o).contains("IMAGE"), "{}", stderr(&o));
}
