//! Integration tests: files written, PNGs decoded and inspected, SVG content, errors.

use std::fs::File;
use std::path::Path;

use bp_plot::{
    plot_accuracy, plot_accuracy_with, plot_loss, plot_loss_with, render_accuracy, Format,
    PlotError, PlotOptions, DEFAULT_SIZE, LOSS_AVG_COLOR, LOSS_COLOR, TEST_COLOR, TRAIN_COLOR,
};
use plotters::style::RGBColor;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A 17-evaluation history shaped like the seed's run: 0.1, then up to about 0.97.
fn seed_like() -> (Vec<f64>, Vec<f64>) {
    let train: Vec<f64> = (0..17)
        .map(|e| {
            if e == 0 {
                0.10
            } else {
                0.97 - 0.17 * (-0.35 * f64::from(e - 1)).exp()
            }
        })
        .collect();
    let test = train.iter().map(|a| a - 0.004).collect();
    (train, test)
}

struct Image {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Image {
    fn pixel(&self, x: u32, y: u32) -> (u8, u8, u8) {
        let i = ((y * self.width + x) * 3) as usize;
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }

    /// Pixels of exactly `color` inside `[x0, x1) x [y0, y1)`.
    fn count_in(&self, color: RGBColor, x0: u32, y0: u32, x1: u32, y1: u32) -> usize {
        let want = (color.0, color.1, color.2);
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| self.pixel(x, y) == want)
            .count()
    }

    fn count(&self, color: RGBColor) -> usize {
        self.count_in(color, 0, 0, self.width, self.height)
    }

    /// Dark (text or axis) pixels inside a region.
    fn dark_in(&self, x0: u32, y0: u32, x1: u32, y1: u32) -> usize {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| {
                let (r, g, b) = self.pixel(x, y);
                u32::from(r) + u32::from(g) + u32::from(b) < 200
            })
            .count()
    }
}

fn decode(path: &Path) -> Result<Image, Box<dyn std::error::Error>> {
    let decoder = png::Decoder::new(File::open(path)?);
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf)?;
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    Ok(Image {
        width: info.width,
        height: info.height,
        rgb: buf,
    })
}

fn assert_both_series(img: &Image) {
    let train = img.count(TRAIN_COLOR);
    let test = img.count(TEST_COLOR);
    assert!(train > 50, "only {train} train-coloured pixels");
    assert!(test > 50, "only {test} test-coloured pixels");
}

/// Files in `dir` other than the expected ones (temporary files left behind, say).
fn assert_only(dir: &Path, names: &[&str]) -> TestResult {
    let mut found: Vec<String> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    found.sort();
    let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(found, want);
    Ok(())
}

#[test]
fn accuracy_png_has_expected_size_both_series_text_and_legend() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("accuracy.png");
    let (train, test) = seed_like();
    plot_accuracy(&path, &train, &test)?;
    let img = decode(&path)?;
    assert_eq!((img.width, img.height), DEFAULT_SIZE);
    assert_both_series(&img);
    // Not blank: the background is white, but there is plenty drawn on it.
    let non_white = img.rgb.chunks(3).filter(|p| p != &[255, 255, 255]).count();
    assert!(non_white > 5_000, "{non_white} non-white pixels");
    // Text renders: the x label `epochs` and tick labels below the plot, the
    // y label `accuracy` and tick labels left of it.
    let (w, h) = (img.width, img.height);
    assert!(
        img.dark_in(w / 4, h - 50, w * 3 / 4, h) > 100,
        "no x axis label"
    );
    assert!(
        img.dark_in(0, h / 4, 50, h * 3 / 4) > 100,
        "no y axis label"
    );
    assert!(
        img.dark_in(50, h / 10, 100, h * 9 / 10) > 100,
        "no y tick labels"
    );
    // Legend in the lower right: with this curve both colours appear there only
    // through the legend's line and marker samples, next to dark label text.
    let (x0, y0) = (w * 3 / 5, h * 7 / 10);
    assert!(
        img.count_in(TRAIN_COLOR, x0, y0, w, h - 60) > 20,
        "no train legend"
    );
    assert!(
        img.count_in(TEST_COLOR, x0, y0, w, h - 60) > 20,
        "no test legend"
    );
    assert!(img.dark_in(x0, y0, w - 20, h - 70) > 100, "no legend text");
    assert_only(dir.path(), &["accuracy.png"])
}

#[test]
fn accuracy_svg_contains_both_series_and_labels() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("accuracy.svg");
    let (train, test) = seed_like();
    plot_accuracy(&path, &train, &test)?;
    let svg = std::fs::read_to_string(&path)?;
    assert!(svg.starts_with("<svg"));
    assert!(svg.trim_end().ends_with("</svg>"));
    let train_hex = format!(
        "#{:02X}{:02X}{:02X}",
        TRAIN_COLOR.0, TRAIN_COLOR.1, TRAIN_COLOR.2
    );
    let test_hex = format!(
        "#{:02X}{:02X}{:02X}",
        TEST_COLOR.0, TEST_COLOR.1, TEST_COLOR.2
    );
    // One circle marker per point (plus the legend's) and the solid line.
    let train_circles = svg
        .lines()
        .filter(|l| l.starts_with("<circle") && l.contains(&train_hex))
        .count();
    assert!(train_circles >= 17);
    assert!(svg.matches(&format!("stroke=\"{train_hex}\"")).count() >= 1);
    // The test line is dashed: many short segments, plus one square per point.
    let test_strokes = svg.matches(&format!("stroke=\"{test_hex}\"")).count();
    assert!(
        test_strokes > 20,
        "{test_strokes} test segments: not dashed?"
    );
    assert!(svg.matches(&format!("fill=\"{test_hex}\"")).count() >= 17);
    for text in ["train acc", "test acc", "epochs", "accuracy", "1.0", "16"] {
        assert!(svg.contains(text), "SVG lacks {text:?}");
    }
    Ok(())
}

#[test]
fn one_evaluation_is_a_single_point() -> TestResult {
    let dir = tempfile::tempdir()?;
    let png = dir.path().join("one.png");
    plot_accuracy(&png, &[0.1], &[0.11])?;
    let img = decode(&png)?;
    assert_eq!((img.width, img.height), DEFAULT_SIZE);
    assert_both_series(&img);
    plot_accuracy(&dir.path().join("one.svg"), &[0.1], &[0.11])?;
    Ok(())
}

#[test]
fn constant_accuracy_including_the_bounds() -> TestResult {
    let dir = tempfile::tempdir()?;
    for (i, value) in [0.0, 0.5, 1.0].into_iter().enumerate() {
        let path = dir.path().join(format!("constant{i}.png"));
        plot_accuracy(&path, &[value; 5], &[value; 5])?;
        let img = decode(&path)?;
        assert_both_series(&img);
    }
    Ok(())
}

#[test]
fn missing_output_directories_are_created_and_files_overwritten() -> TestResult {
    let dir = tempfile::tempdir()?;
    let nested = dir.path().join("a/b/c");
    let path = nested.join("accuracy.png");
    let (train, test) = seed_like();
    plot_accuracy(&path, &train, &test)?;
    assert!(path.is_file());
    // Writing again replaces the file and leaves no temporary file behind.
    plot_accuracy(&path, &[0.2, 0.3], &[0.2, 0.25])?;
    assert_both_series(&decode(&path)?);
    assert_only(&nested, &["accuracy.png"])
}

#[test]
fn dot_components_in_the_path_are_fine() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("sub/./../x.svg");
    plot_accuracy(&path, &[0.5], &[0.5])?;
    assert!(dir.path().join("x.svg").is_file());
    assert_only(dir.path(), &["sub", "x.svg"])
}

#[test]
fn custom_size_and_title() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("small.png");
    let options = PlotOptions {
        size: (400, 300),
        title: Some("MNIST".into()),
        ..PlotOptions::default()
    };
    let (train, test) = seed_like();
    plot_accuracy_with(&path, &train, &test, &options)?;
    let img = decode(&path)?;
    assert_eq!((img.width, img.height), (400, 300));
    assert_both_series(&img);

    let bad = PlotOptions {
        size: (0, 300),
        ..PlotOptions::default()
    };
    let err = plot_accuracy_with(&dir.path().join("bad.png"), &train, &test, &bad);
    assert!(matches!(
        err,
        Err(PlotError::InvalidSize {
            width: 0,
            height: 300
        })
    ));
    Ok(())
}

#[test]
fn render_in_memory() -> TestResult {
    let (train, test) = seed_like();
    let png = render_accuracy(Format::Png, &train, &test, &PlotOptions::default())?;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = String::from_utf8(render_accuracy(
        Format::Svg,
        &train,
        &test,
        &PlotOptions::default(),
    )?)?;
    assert!(svg.contains("train acc"));
    assert!(svg.contains(">\nepochs\n<"), "{svg}");
    let relabelled = PlotOptions {
        x_label: "evaluations (every 300 iterations)".into(),
        ..PlotOptions::default()
    };
    let svg = String::from_utf8(render_accuracy(Format::Svg, &train, &test, &relabelled)?)?;
    assert!(svg.contains("evaluations (every 300 iterations)"), "{svg}");
    assert!(
        !svg.contains(">\nepochs\n<"),
        "the default label is replaced"
    );
    Ok(())
}

#[test]
fn invalid_series_are_errors_and_write_nothing() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("out/accuracy.png");

    let err = plot_accuracy(&path, &[], &[]).err().ok_or("no error")?;
    assert!(matches!(
        err,
        PlotError::EmptySeries {
            series: "train acc"
        }
    ));
    assert!(err.to_string().contains("train acc"));

    let err = plot_accuracy(&path, &[0.5], &[]).err().ok_or("no error")?;
    assert!(matches!(err, PlotError::EmptySeries { series: "test acc" }));

    let err = plot_accuracy(&path, &[0.5, 0.6], &[0.5])
        .err()
        .ok_or("no error")?;
    assert!(matches!(
        err,
        PlotError::LengthMismatch { train: 2, test: 1 }
    ));

    let err = plot_accuracy(&path, &[0.5; 5], &[0.5, 0.5, 0.5, f64::NAN, 0.5])
        .err()
        .ok_or("no error")?;
    assert!(matches!(
        err,
        PlotError::NonFinite {
            series: "test acc",
            index: 3,
            ..
        }
    ));
    let message = err.to_string();
    assert!(
        message.contains("test acc") && message.contains("index 3"),
        "{message}"
    );

    let err = plot_accuracy(&path, &[0.5, f64::INFINITY], &[0.5, 0.5])
        .err()
        .ok_or("no error")?;
    assert!(matches!(
        err,
        PlotError::NonFinite {
            series: "train acc",
            index: 1,
            ..
        }
    ));

    let err = plot_accuracy(&path, &[0.5, 1.5], &[0.5, 0.5])
        .err()
        .ok_or("no error")?;
    assert!(matches!(
        err,
        PlotError::OutOfRange {
            series: "train acc",
            index: 1,
            ..
        }
    ));

    for name in ["accuracy.jpg", "accuracy", "accuracy.png.tmp"] {
        let err = plot_accuracy(&dir.path().join(name), &[0.5], &[0.5])
            .err()
            .ok_or("no error")?;
        assert!(matches!(err, PlotError::UnsupportedFormat { .. }), "{name}");
        assert!(err.to_string().contains(name));
    }

    // Nothing was created by any failed call.
    assert_only(dir.path(), &[])
}

#[test]
fn unwritable_destination_is_an_io_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x")?;
    let err = plot_accuracy(&file.join("accuracy.png"), &[0.5], &[0.5])
        .err()
        .ok_or("no error")?;
    assert!(matches!(err, PlotError::Io { .. }), "{err}");
    assert!(err.to_string().contains("not-a-dir"));
    Ok(())
}

/// A loss curve like the seed's: 2.3 falling towards 0.1, with deterministic noise.
fn loss_curve(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let wobble = 1.0 + 0.3 * ((i as f64) * 1.7).sin();
            (0.1 + 2.2 * (-(i as f64) / 400.0).exp()) * wobble
        })
        .collect()
}

#[test]
fn loss_png_and_svg() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("plots/loss.png");
    plot_loss(&path, &loss_curve(10_000))?;
    let img = decode(&path)?;
    assert_eq!((img.width, img.height), DEFAULT_SIZE);
    assert!(img.count(LOSS_COLOR) > 200, "no raw loss curve");
    assert!(img.count(LOSS_AVG_COLOR) > 200, "no moving average");
    let (w, h) = (img.width, img.height);
    assert!(
        img.dark_in(w / 4, h - 50, w * 3 / 4, h) > 100,
        "no x axis label"
    );

    let svg_path = dir.path().join("plots/loss.svg");
    plot_loss(&svg_path, &loss_curve(300))?;
    let svg = std::fs::read_to_string(&svg_path)?;
    for text in ["iterations", "loss", "moving average"] {
        assert!(svg.contains(text), "SVG lacks {text:?}");
    }
    Ok(())
}

#[test]
fn loss_edge_cases() -> TestResult {
    let dir = tempfile::tempdir()?;
    // One iteration: a single point.
    let one = dir.path().join("one.png");
    plot_loss(&one, &[2.3])?;
    assert!(decode(&one)?.count(LOSS_AVG_COLOR) > 20);
    // Constant loss, zero loss, a tiny curve, a custom size.
    plot_loss(&dir.path().join("constant.png"), &[0.7; 50])?;
    plot_loss(&dir.path().join("zero.png"), &[0.0; 3])?;
    plot_loss(&dir.path().join("two.svg"), &[2.3, 2.2])?;
    let small = dir.path().join("small.png");
    plot_loss_with(
        &small,
        &loss_curve(100),
        &PlotOptions {
            size: (320, 240),
            ..PlotOptions::default()
        },
    )?;
    let img = decode(&small)?;
    assert_eq!((img.width, img.height), (320, 240));

    let err = plot_loss(&dir.path().join("e.png"), &[])
        .err()
        .ok_or("no error")?;
    assert!(matches!(err, PlotError::EmptySeries { series: "loss" }));
    let err = plot_loss(&dir.path().join("e.png"), &[2.3, 1.0, f64::NAN])
        .err()
        .ok_or("no error")?;
    assert!(matches!(
        err,
        PlotError::NonFinite {
            series: "loss",
            index: 2,
            ..
        }
    ));
    assert!(!dir.path().join("e.png").exists());
    Ok(())
}

#[test]
fn grad_norm_png_and_svg_draw_every_series() -> TestResult {
    use bp_plot::{plot_grad_norms, render_grad_norms, SERIES_COLORS};
    let dir = tempfile::tempdir()?;
    let iters: Vec<usize> = (0..17).map(|e| e * 600).chain([9999]).collect();
    let series: Vec<(String, Vec<f64>)> = [("W1", 2.0), ("b1", 0.3), ("W2", 1.0), ("b2", 0.05)]
        .iter()
        .map(|&(name, start)| {
            let values = (0..iters.len())
                .map(|i| start * (-0.1 * i as f64).exp())
                .collect();
            (name.to_string(), values)
        })
        .collect();
    let png = dir.path().join("grads.png");
    plot_grad_norms(&png, &iters, &series)?;
    if let Some(keep) = std::env::var_os("BP_PLOT_KEEP") {
        std::fs::copy(&png, keep)?;
    }
    let img = decode(&png)?;
    assert_eq!((img.width, img.height), DEFAULT_SIZE);
    for color in &SERIES_COLORS[..4] {
        assert!(img.count(*color) > 100, "{color:?}");
    }
    assert_eq!(img.count(SERIES_COLORS[4]), 0);
    let svg = render_grad_norms(Format::Svg, &iters, &series, &PlotOptions::default())?;
    let svg = String::from_utf8(svg)?;
    // Decades are labelled (the text is on a line of its own), others not.
    for label in [
        "W1",
        "b1",
        "W2",
        "b2",
        "iterations",
        "gradient L2 norm",
        "\n0.001\n",
        "\n0.01\n",
        "\n1\n",
        "\n10\n",
    ] {
        assert!(svg.contains(label), "{label:?}");
    }
    assert!(!svg.contains("\n0.02\n"));

    // A zero breaks the line but is no error; bad series are.
    let mut with_zero = series.clone();
    with_zero[1].1[3] = 0.0;
    render_grad_norms(Format::Png, &iters, &with_zero, &PlotOptions::default())?;
    let bad = |series: &[(String, Vec<f64>)], iters: &[usize]| {
        render_grad_norms(Format::Png, iters, series, &PlotOptions::default()).unwrap_err()
    };
    assert!(matches!(bad(&series, &[]), PlotError::EmptySeries { .. }));
    assert!(matches!(bad(&[], &iters), PlotError::EmptySeries { .. }));
    assert!(matches!(
        bad(&series, &iters[..3]),
        PlotError::SeriesLength {
            len: 18,
            expected: 3,
            ..
        }
    ));
    let mut negative = series.clone();
    negative[2].1[5] = -1.0;
    assert!(matches!(
        bad(&negative, &iters),
        PlotError::Negative { index: 5, .. }
    ));
    negative[2].1[5] = f64::NAN;
    assert!(matches!(
        bad(&negative, &iters),
        PlotError::NonFinite { index: 5, .. }
    ));
    Ok(())
}
