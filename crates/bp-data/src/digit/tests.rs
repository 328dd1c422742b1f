use super::*;

/// A `w x h` image of `background` with `shape` drawn in `ink`, anti-aliased by
/// 4x4 supersampling (`shape` takes pixel coordinates, centres at `x + 0.5`).
fn draw(w: usize, h: usize, background: u8, ink: u8, shape: impl Fn(f64, f64) -> bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            let mut hits = 0;
            for sy in 0..4 {
                for sx in 0..4 {
                    let px = x as f64 + (sx as f64 + 0.5) / 4.0;
                    let py = y as f64 + (sy as f64 + 0.5) / 4.0;
                    hits += u32::from(shape(px, py));
                }
            }
            let cover = f64::from(hits) / 16.0;
            let v = f64::from(background) + cover * (f64::from(ink) - f64::from(background));
            out.push(v.round() as u8);
        }
    }
    out
}

/// An axis-aligned rectangle `[x0, x1) x [y0, y1)`.
fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> impl Fn(f64, f64) -> bool {
    move |x, y| x >= x0 && x < x1 && y >= y0 && y < y1
}

/// A ring (annulus) centred at `(cx, cy)`.
fn ring(cx: f64, cy: f64, r_in: f64, r_out: f64) -> impl Fn(f64, f64) -> bool {
    move |x, y| {
        let d = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
        d >= r_in && d < r_out
    }
}

/// Bounding box `(x0, y0, x1, y1)` of the non-zero pixels of a prepared digit.
fn bbox(d: &[u8; DIGIT_PIXELS]) -> (usize, usize, usize, usize) {
    let ink = |i: usize| d[i] > 0;
    let rows: Vec<usize> = (0..DIGIT_PIXELS)
        .filter(|&i| ink(i))
        .map(|i| i / 28)
        .collect();
    let cols: Vec<usize> = (0..DIGIT_PIXELS)
        .filter(|&i| ink(i))
        .map(|i| i % 28)
        .collect();
    assert!(!rows.is_empty(), "the prepared digit is blank");
    let (y0, y1) = (rows[0], rows[rows.len() - 1] + 1);
    let (x0, x1) = (
        cols.iter().copied().min().unwrap_or(0),
        cols.iter().copied().max().unwrap_or(0) + 1,
    );
    (x0, y0, x1, y1)
}

/// Centre of mass (row, column) of a prepared digit, in pixel indices.
fn centre_of_mass(d: &[u8; DIGIT_PIXELS]) -> (f64, f64) {
    let (mut m, mut r, mut c) = (0.0, 0.0, 0.0);
    for (i, &v) in d.iter().enumerate() {
        let v = f64::from(v);
        m += v;
        r += v * (i / 28) as f64;
        c += v * (i % 28) as f64;
    }
    (r / m, c / m)
}

fn assert_centred(d: &[u8; DIGIT_PIXELS], what: &str) {
    let (r, c) = centre_of_mass(d);
    assert!(
        (r - 14.0).abs() <= 0.5 && (c - 14.0).abs() <= 0.5,
        "{what}: centre of mass ({r:.3}, {c:.3}) is not within 0.5 px of (14, 14)"
    );
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    let total: u64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    total as f64 / a.len() as f64
}

#[test]
fn a_light_background_is_inverted_and_a_dark_one_is_not() {
    // The same ring as dark ink on white paper and as white ink on black.
    let shape = || ring(40.0, 30.0, 12.0, 18.0);
    let on_paper = draw(80, 60, 255, 0, shape());
    let on_black = draw(80, 60, 0, 255, shape());
    let a = prepare_digit(&on_paper, 80, 60).expect("ring on paper");
    let b = prepare_digit(&on_black, 80, 60).expect("ring on black");
    assert_eq!(a, b, "inverting the input must not change the digit");
    // MNIST's convention: background 0 (the corners and the ring's hole), ink 255.
    assert_eq!(a[0], 0);
    assert_eq!(a[DIGIT_PIXELS - 1], 0);
    assert_eq!(a[14 * 28 + 14], 0, "the hole of the ring is background");
    assert_eq!(a.iter().copied().max(), Some(255));
    assert!(a.iter().filter(|&&v| v == 255).count() > 50);
}

#[test]
fn grey_ink_on_grey_paper_is_stretched_to_mnists_levels() {
    let grey = draw(50, 50, 200, 90, rect(10.0, 5.0, 40.0, 45.0));
    let black = draw(50, 50, 255, 0, rect(10.0, 5.0, 40.0, 45.0));
    let a = prepare_digit(&grey, 50, 50).expect("grey box");
    let b = prepare_digit(&black, 50, 50).expect("black box");
    assert_eq!(a.iter().copied().max(), Some(255));
    assert!(mean_abs_diff(&a, &b) < 0.5, "{}", mean_abs_diff(&a, &b));
}

#[test]
fn the_ink_is_cropped_and_scaled_to_20_on_the_longer_side_keeping_the_aspect() {
    // A tall bar: 10 x 40 at the top left of a 100 x 70 page -> 5 x 20.
    let tall = draw(100, 70, 250, 10, rect(3.0, 2.0, 13.0, 42.0));
    let d = prepare_digit(&tall, 100, 70).expect("tall bar");
    let (x0, y0, x1, y1) = bbox(&d);
    assert_eq!((x1 - x0, y1 - y0), (5, 20), "box {x0},{y0}..{x1},{y1}");
    assert_centred(&d, "tall bar");

    // A wide box: 60 x 30 -> 20 x 10.
    let wide = draw(90, 90, 0, 255, rect(25.0, 50.0, 85.0, 80.0));
    let d = prepare_digit(&wide, 90, 90).expect("wide box");
    let (x0, y0, x1, y1) = bbox(&d);
    assert_eq!((x1 - x0, y1 - y0), (20, 10), "box {x0},{y0}..{x1},{y1}");
    assert_centred(&d, "wide box");
    // Area averaging keeps a uniform area uniform.
    assert!(d.iter().all(|&v| v == 0 || v == 255));
}

#[test]
fn shrinking_averages_areas() {
    // A 1-pixel checkerboard 40 x 40 shrunk to 20 x 20 averages to mid-grey:
    // each output pixel is exactly one 2x2 block, half ink.
    let (w, h) = (60, 60);
    let mut img = vec![0u8; w * h];
    for y in 10..50 {
        for x in 10..50 {
            img[y * w + x] = if (x + y) % 2 == 0 { 255 } else { 0 };
        }
    }
    let d = prepare_digit(&img, w, h).expect("checkerboard");
    let (x0, y0, x1, y1) = bbox(&d);
    assert_eq!((x1 - x0, y1 - y0), (20, 20));
    for y in y0..y1 {
        for x in x0..x1 {
            let v = d[y * 28 + x];
            assert!((127..=128).contains(&v), "pixel ({x}, {y}) is {v}");
        }
    }
}

#[test]
fn a_small_input_is_enlarged() {
    // A 7 x 7 hollow square on a 12 x 12 canvas -> a 20 x 20 box.
    let img = draw(12, 12, 255, 0, |x, y| {
        rect(2.0, 3.0, 9.0, 10.0)(x, y) && !rect(4.0, 5.0, 7.0, 8.0)(x, y)
    });
    let d = prepare_digit(&img, 12, 12).expect("small square");
    let (x0, y0, x1, y1) = bbox(&d);
    assert_eq!((x1 - x0, y1 - y0), (20, 20), "box {x0},{y0}..{x1},{y1}");
    assert_eq!(d[14 * 28 + 14], 0, "the middle stays hollow");
    assert_centred(&d, "small square");
}

#[test]
fn the_centre_of_mass_is_placed_at_14_14() {
    // Shapes whose centre of mass is far from their box's middle: centring the
    // box instead would put the mass a pixel or more off.
    let cases: Vec<(&str, usize, Vec<u8>)> = vec![
        (
            "L",
            70,
            draw(70, 70, 255, 0, |x, y| {
                rect(10.0, 10.0, 16.0, 60.0)(x, y) || rect(10.0, 54.0, 50.0, 60.0)(x, y)
            }),
        ),
        (
            "ring with a heavy dot",
            70,
            draw(70, 70, 0, 255, |x, y| {
                ring(35.0, 35.0, 20.0, 23.0)(x, y) || ring(22.0, 24.0, 0.0, 6.0)(x, y)
            }),
        ),
        (
            "wedge",
            64,
            draw(64, 40, 240, 30, |x, y| {
                x > 5.0 && x < 60.0 && y > 5.0 && y < 5.0 + 30.0 * (x - 5.0) / 55.0
            }),
        ),
    ];
    for (name, w, img) in cases {
        let h = img.len() / w;
        let d = prepare_digit(&img, w, h).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_centred(&d, name);
        // No ink is lost, and the box is off the field's middle.
        let (x0, y0, x1, y1) = bbox(&d);
        assert_eq!(
            (x1 - x0).max(y1 - y0),
            20,
            "{name}: box {x0},{y0}..{x1},{y1}"
        );
        let middle = ((x0 + x1) as f64 / 2.0 - 14.0, (y0 + y1) as f64 / 2.0 - 14.0);
        assert!(
            middle.0.abs() >= 1.0 || middle.1.abs() >= 1.0,
            "{name}: the box is centred ({middle:?} off), not its mass"
        );
    }
}

#[test]
fn an_mnist_like_digit_comes_back_nearly_the_same() {
    // A "6": a ring 15 wide and 20 tall (rows 4 to 23, flat at both ends as
    // MNIST's strokes are after scaling) with a bar through its lower half, which
    // brings its centre of mass near (14, 14): boxed and centred as in MNIST.
    let six = draw(28, 28, 0, 255, |x, y| {
        let (dx, dy) = ((x - 14.5) / 7.5, (y - 14.0) / 10.8);
        let d = (dx * dx + dy * dy).sqrt();
        let ring = (0.6..1.0).contains(&d) && (4.0..24.0).contains(&y);
        ring || (d < 1.0 && (16.0..18.5).contains(&y))
    });
    let six: [u8; DIGIT_PIXELS] = six.try_into().expect("28 x 28");
    let (r, c) = centre_of_mass(&six);
    assert!(
        (r - 14.0).abs() < 0.4 && (c - 14.0).abs() < 0.4,
        "({r}, {c})"
    );
    let back = prepare_digit(&six, 28, 28).expect("the six");
    let diff = mean_abs_diff(&six, &back);
    assert!(diff < 1.0, "mean absolute difference {diff:.3} of 255");
}

#[test]
fn a_blank_or_flat_image_is_no_ink() {
    for (what, img) in [
        ("white", vec![255u8; 40 * 30]),
        ("black", vec![0u8; 40 * 30]),
        (
            "faint box",
            draw(40, 30, 200, 180, rect(10.0, 5.0, 30.0, 25.0)),
        ),
    ] {
        match prepare_digit(&img, 40, 30) {
            Err(DataError::NoInk {
                path: None,
                contrast,
            }) => {
                assert!(contrast < MIN_CONTRAST, "{what}: contrast {contrast}")
            }
            other => panic!("{what}: expected NoInk, got {other:?}"),
        }
    }
    let err = prepare_digit(&[255; 16], 4, 4).unwrap_err();
    assert!(err.to_string().starts_with("no ink"), "{err}");
    assert_eq!(err.path(), None);
}

#[test]
fn wrong_sizes_are_errors_not_panics() {
    for (len, w, h) in [(10, 3, 3), (0, 0, 0), (5, 5, 0), (4, usize::MAX, 2)] {
        let img = vec![0u8; len];
        match prepare_digit(&img, w, h) {
            Err(DataError::InvalidArgument { what, .. }) => assert_eq!(what, "prepare_digit"),
            other => panic!("{len} bytes as {w}x{h}: {other:?}"),
        }
    }
}

#[test]
fn one_pixel_thin_inputs_work() {
    // A single row and a single column: the ring is the whole image.
    let row: Vec<u8> = (0..30)
        .map(|x| if (10..20).contains(&x) { 255 } else { 0 })
        .collect();
    let d = prepare_digit(&row, 30, 1).expect("a row");
    let (x0, y0, x1, y1) = bbox(&d);
    assert_eq!((x1 - x0, y1 - y0), (20, 2), "one row of 10 enlarged by 2");
    let d = prepare_digit(&[255], 1, 1);
    assert!(matches!(d, Err(DataError::NoInk { .. })), "{d:?}");
}

#[test]
fn area_weights_sum_to_one() {
    for (n, m) in [(60, 20), (61, 20), (7, 3), (20, 20), (5, 20), (1, 20)] {
        for (j, taps) in axis_weights(n, m).iter().enumerate() {
            let s: f32 = taps.iter().map(|t| t.1).sum();
            assert!(
                (s - 1.0).abs() < 1e-5,
                "{n}->{m}, output {j}: weights sum to {s}"
            );
            assert!(taps.iter().all(|t| t.0 < n));
        }
    }
}

#[cfg(feature = "image")]
mod files {
    use super::*;
    use image::{GrayImage, ImageFormat};
    use std::path::PathBuf;

    fn encode(img: &[u8], w: usize, h: usize, format: ImageFormat) -> Vec<u8> {
        let img = GrayImage::from_raw(w as u32, h as u32, img.to_vec()).expect("sizes");
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("encode");
        out.into_inner()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write a test file");
        path
    }

    fn ring_page() -> Vec<u8> {
        draw(90, 60, 245, 20, ring(45.0, 30.0, 14.0, 22.0))
    }

    #[test]
    fn png_and_jpeg_files_give_the_same_digit_as_their_pixels() {
        let dir = tempfile::tempdir().expect("tempdir");
        let page = ring_page();
        let want = prepare_digit(&page, 90, 60).expect("pixels");
        let png = write(
            dir.path(),
            "ring.png",
            &encode(&page, 90, 60, ImageFormat::Png),
        );
        assert_eq!(load_digit(&png).expect("the PNG"), want);
        // JPEG is lossy: close, not equal. Its name says PNG: the bytes decide.
        let jpeg = write(
            dir.path(),
            "ring-really-jpeg.png",
            &encode(&page, 90, 60, ImageFormat::Jpeg),
        );
        let got = load_digit(&jpeg).expect("the JPEG");
        let diff = mean_abs_diff(&got, &want);
        assert!(diff < 4.0, "JPEG differs by {diff:.2} on average");
        assert_centred(&got, "the JPEG");
    }

    #[test]
    fn colour_and_transparency_are_flattened() {
        let dir = tempfile::tempdir().expect("tempdir");
        let page = ring_page();
        let want = prepare_digit(&page, 90, 60).expect("pixels");
        // The ring in dark blue on a light yellow page.
        let rgb = image::RgbImage::from_fn(90, 60, |x, y| {
            let ink = page[y as usize * 90 + x as usize] < 128;
            if ink {
                image::Rgb([10, 20, 90])
            } else {
                image::Rgb([250, 240, 200])
            }
        });
        let path = dir.path().join("colour.png");
        rgb.save(&path).expect("save");
        let got = load_digit(&path).expect("colour PNG");
        assert!(
            mean_abs_diff(&got, &want) < 8.0,
            "{}",
            mean_abs_diff(&got, &want)
        );
        // Black ink on a transparent sheet, and white ink on one.
        for (ink, name) in [(0u8, "black-on-clear.png"), (255, "white-on-clear.png")] {
            let clear = image::GrayAlphaImage::from_fn(90, 60, |x, y| {
                let a = 255 - page[y as usize * 90 + x as usize];
                image::LumaA([ink, a])
            });
            let path = dir.path().join(name);
            clear.save(&path).expect("save");
            let got = load_digit(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            let diff = mean_abs_diff(&got, &want);
            assert!(diff < 8.0, "{name}: differs by {diff:.2}");
        }
    }

    #[test]
    fn a_file_that_is_not_an_image_is_named_in_the_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = write(dir.path(), "x.png", b"this is not a picture of a digit\n");
        let err = load_digit(&text).unwrap_err();
        assert!(matches!(err, DataError::NotAnImage { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.starts_with(&text.display().to_string()), "{msg}");
        assert!(
            msg.contains("not a PNG or JPEG image") && msg.contains("text"),
            "{msg}"
        );
        assert_eq!(err.path(), Some(text.as_path()));

        let empty = write(dir.path(), "empty.jpg", b"");
        let msg = load_digit(&empty).unwrap_err().to_string();
        assert!(
            msg.contains("empty.jpg") && msg.contains("empty (0 bytes)"),
            "{msg}"
        );

        let gif = write(
            dir.path(),
            "seven.gif",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        );
        let msg = load_digit(&gif).unwrap_err().to_string();
        assert!(
            msg.contains("seven.gif") && msg.contains("GIF image"),
            "{msg}"
        );

        let binary = write(dir.path(), "noise.png", &[0u8, 159, 146, 150, 1, 2, 3]);
        let msg = load_digit(&binary).unwrap_err().to_string();
        assert!(msg.contains("neither a PNG nor a JPEG signature"), "{msg}");
    }

    #[test]
    fn a_truncated_or_damaged_png_is_a_decoding_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let png = encode(&ring_page(), 90, 60, ImageFormat::Png);
        for cut in [png.len() / 2, 40, 9] {
            let path = write(dir.path(), &format!("cut-{cut}.png"), &png[..cut]);
            match load_digit(&path) {
                Err(e @ DataError::BadImage { format: "PNG", .. }) => {
                    assert!(e.to_string().contains(&format!("cut-{cut}.png")), "{e}");
                }
                other => panic!("PNG cut to {cut} bytes: {other:?}"),
            }
        }
        // A flipped bit in the image data fails the checksum.
        let mut damaged = png.clone();
        let at = damaged.len() - 30;
        damaged[at] ^= 0x55;
        let path = write(dir.path(), "damaged.png", &damaged);
        assert!(
            matches!(load_digit(&path), Err(DataError::BadImage { .. })),
            "{:?}",
            load_digit(&path)
        );
        let jpeg = encode(&ring_page(), 90, 60, ImageFormat::Jpeg);
        let path = write(dir.path(), "cut.jpg", &jpeg[..jpeg.len() / 3]);
        // zune-jpeg may decode a cut JPEG partly (grey below the cut); either
        // way it is an answer or a named error, never a panic.
        if let Err(e) = load_digit(&path) {
            assert!(e.to_string().contains("cut.jpg"), "{e}");
        }
    }

    #[test]
    fn a_blank_image_file_is_no_ink_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(
            dir.path(),
            "white.png",
            &encode(&[255; 900], 30, 30, ImageFormat::Png),
        );
        let err = load_digit(&path).unwrap_err();
        assert!(
            matches!(err, DataError::NoInk { path: Some(ref p), .. } if *p == path),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("{}: no ink", path.display())),
            "{err}"
        );
    }

    #[test]
    fn a_missing_file_is_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nowhere.png");
        let err = load_digit(&path).unwrap_err();
        assert!(matches!(err, DataError::Missing { .. }), "{err:?}");
        assert!(err.to_string().contains("nowhere.png"), "{err}");
    }
}
