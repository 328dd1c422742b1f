//! Your own digit: any greyscale picture of one digit made into a 28x28 image the
//! way MNIST's digits were made, so a net trained on MNIST can read it.
//!
//! [`prepare_digit`] works on plain greyscale bytes and needs no codec:
//!
//! 1. **Background.** The median of the outermost ring of pixels is the
//!    background; when it is light (dark ink on paper) the image is inverted, so
//!    that, as in MNIST, 0 is background and 255 is ink.
//! 2. **Levels.** The background level becomes 0 and full ink (the 95th
//!    percentile of the ink, so that a few overshooting pixels do not count) 255,
//!    so grey paper or grey ink look like MNIST's black and white. An image in which
//!    nothing stands out from the background is [`DataError::NoInk`].
//! 3. **Crop** to the bounding box of the ink (pixels above a small threshold).
//! 4. **Scale** so that the longer side is 20 pixels, keeping the aspect ratio:
//!    averaged over areas when shrinking (anti-aliased, as MNIST's 20x20 boxes
//!    were), bilinear when enlarging a small input.
//! 5. **Centre** in a 28x28 field by shifting it a whole number of pixels so its
//!    centre of mass lands within half a pixel of row and column index 14 (where
//!    MNIST's lie); whatever the shift pushes off the field is clipped.
//!
//! The result is `u8` in MNIST's convention, so it goes through the same `u8` to
//! float path (divided by 255) as the data set.
//!
//! With the cargo feature `image` (on by default), [`load_digit`] reads a PNG or
//! JPEG file (the format is told from its bytes, not its name), turns it into
//! greyscale ([`decode_grey`]) and prepares it.
//!
//! ```
//! use bp_data::digit::{prepare_digit, DIGIT_SIDE};
//!
//! // A dark bar, 10 wide and 40 tall, near the top left of a 60x50 light page.
//! let (width, height) = (60, 50);
//! let mut page = vec![230u8; width * height];
//! for y in 3..43 {
//!     for x in 5..15 {
//!         page[y * width + x] = 20;
//!     }
//! }
//! let digit = prepare_digit(&page, width, height)?;
//!
//! // Inverted (ink is 255), 20 pixels tall and 5 wide, centred on (14, 14).
//! let ink: Vec<(usize, usize)> = (0..DIGIT_SIDE * DIGIT_SIDE)
//!     .filter(|&i| digit[i] > 0)
//!     .map(|i| (i / DIGIT_SIDE, i % DIGIT_SIDE))
//!     .collect();
//! assert!(ink.iter().all(|&(r, c)| digit[r * DIGIT_SIDE + c] == 255));
//! assert_eq!(ink.len(), 20 * 5);
//! let rows = ink.iter().map(|p| p.0);
//! let cols = ink.iter().map(|p| p.1);
//! assert_eq!((rows.clone().min(), rows.max()), (Some(5), Some(24)));
//! assert_eq!((cols.clone().min(), cols.max()), (Some(12), Some(16)));
//!
//! // A blank page is an error, not a guess.
//! let blank = vec![230u8; width * height];
//! let err = prepare_digit(&blank, width, height).unwrap_err();
//! assert!(err.to_string().contains("no ink"), "{err}");
//! # Ok::<(), bp_data::DataError>(())
//! ```

#[cfg(feature = "image")]
use std::path::Path;

use crate::error::DataError;

/// Side of a prepared digit's square field, in pixels (28, as in MNIST).
pub const DIGIT_SIDE: usize = 28;

/// Pixels of a prepared digit, `DIGIT_SIDE * DIGIT_SIDE` (784).
pub const DIGIT_PIXELS: usize = DIGIT_SIDE * DIGIT_SIDE;

/// Side of the box the ink is scaled into (20, as in MNIST).
pub const DIGIT_BOX: usize = 20;

/// Fewest grey levels the ink must stand out from the background by; below it
/// the image is taken as blank (JPEG noise and paper texture stay under it).
pub const MIN_CONTRAST: u8 = 32;

/// Ink level (after the levels step, 0..=255) a pixel must exceed to count for the
/// crop, so that faint noise far from the digit does not widen the box.
const INK_THRESHOLD: u8 = 32;

/// Where a prepared digit's centre of mass lies: MNIST's, as row and column indices.
const CENTRE: f64 = 14.0;

/// A greyscale image: `width * height` bytes, row-major, 0 black and 255 white.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreyImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The pixels, row by row.
    pub pixels: Vec<u8>,
}

/// Makes a 28x28 MNIST-style digit (0 background, 255 ink) from a greyscale
/// image of `width x height` bytes, row-major (see the [module docs](self)).
///
/// Wrong sizes are [`DataError::InvalidArgument`]; an image with nothing that
/// stands out from its background is [`DataError::NoInk`] (with no path).
pub fn prepare_digit(
    grey: &[u8],
    width: usize,
    height: usize,
) -> Result<[u8; DIGIT_PIXELS], DataError> {
    if width == 0 || height == 0 || width.checked_mul(height) != Some(grey.len()) {
        return Err(DataError::arg(
            "prepare_digit",
            format!(
                "{} bytes are not a {width}x{height} greyscale image",
                grey.len()
            ),
        ));
    }
    let ink = ink_levels(grey, width, height)?;
    let (x0, y0, x1, y1) = ink_box(&ink, width).ok_or(DataError::NoInk {
        path: None,
        contrast: 0,
    })?;
    let (cw, ch) = (x1 - x0, y1 - y0);
    let crop: Vec<f32> = (y0..y1)
        .flat_map(|y| ink[y * width + x0..y * width + x1].iter())
        .map(|&v| f32::from(v))
        .collect();

    let long = cw.max(ch);
    let side = |n: usize| ((n * DIGIT_BOX + long / 2) / long).clamp(1, DIGIT_BOX);
    let (tw, th) = (side(cw), side(ch));
    let scaled = resize(&crop, cw, ch, tw, th);
    // Rounded before the centre of mass is taken, so the output's own centre of
    // mass is the one placed within half a pixel of the centre.
    let scaled: Vec<u8> = scaled
        .iter()
        .map(|&v| v.round().clamp(0.0, 255.0) as u8)
        .collect();
    Ok(place_centred(&scaled, tw, th))
}

/// The image as ink levels: inverted when the background is light, the
/// background level mapped to 0 and the strongest ink to 255.
fn ink_levels(grey: &[u8], width: usize, height: usize) -> Result<Vec<u8>, DataError> {
    let median = ring_median(grey, width, height);
    let light = median > 127;
    let orient = |v: u8| if light { 255 - v } else { v };
    let background = orient(median);
    let mut counts = [0usize; 256];
    for &v in grey {
        counts[usize::from(orient(v))] += 1;
    }
    let strongest = counts.iter().rposition(|&n| n > 0).unwrap_or(0) as u8;
    let contrast = strongest.saturating_sub(background);
    if contrast < MIN_CONTRAST {
        return Err(DataError::NoInk {
            path: None,
            contrast,
        });
    }
    // Full ink is the 95th percentile of the ink, not its maximum: JPEG ringing
    // and specks overshoot the stroke, and would leave the digit dim. The check
    // above keeps `ink_from` at most 255.
    let ink_from = usize::from(background) + usize::from(MIN_CONTRAST);
    let ink_total: usize = counts[ink_from..].iter().sum();
    let mut seen = 0;
    let mut peak = strongest;
    for v in (ink_from..256).rev() {
        seen += counts[v];
        if seen * 20 > ink_total {
            peak = v as u8;
            break;
        }
    }
    let contrast = peak - background;
    let mut lut = [0u8; 256];
    for (v, out) in lut.iter_mut().enumerate() {
        let above = orient(v as u8).saturating_sub(background);
        let level = (u32::from(above) * 255 + u32::from(contrast) / 2) / u32::from(contrast);
        *out = level.min(255) as u8;
    }
    Ok(grey.iter().map(|&v| lut[usize::from(v)]).collect())
}

/// The median of the outermost ring of pixels (every pixel, when the image is at
/// most two pixels thin): the background, even when a stroke touches the edge.
fn ring_median(grey: &[u8], width: usize, height: usize) -> u8 {
    let mut counts = [0usize; 256];
    let mut add = |v: u8| counts[usize::from(v)] += 1;
    if width <= 2 || height <= 2 {
        grey.iter().copied().for_each(&mut add);
    } else {
        grey[..width].iter().copied().for_each(&mut add);
        grey[(height - 1) * width..]
            .iter()
            .copied()
            .for_each(&mut add);
        for row in grey.chunks_exact(width).take(height - 1).skip(1) {
            add(row[0]);
            add(row[width - 1]);
        }
    }
    let total: usize = counts.iter().sum();
    let mut seen = 0;
    for (v, &n) in counts.iter().enumerate() {
        seen += n;
        if 2 * seen > total {
            return v as u8;
        }
    }
    255
}

/// Bounding box `(x0, y0, x1, y1)` (end exclusive) of the pixels above the ink
/// threshold, or `None` when there are none.
fn ink_box(ink: &[u8], width: usize) -> Option<(usize, usize, usize, usize)> {
    let mut bounds: Option<(usize, usize, usize, usize)> = None;
    for (y, row) in ink.chunks_exact(width).enumerate() {
        let Some(first) = row.iter().position(|&v| v > INK_THRESHOLD) else {
            continue;
        };
        let last = row
            .iter()
            .rposition(|&v| v > INK_THRESHOLD)
            .unwrap_or(first);
        bounds = Some(match bounds {
            None => (first, y, last + 1, y + 1),
            Some((x0, y0, x1, _)) => (x0.min(first), y0, x1.max(last + 1), y + 1),
        });
    }
    bounds
}

/// For each of `m` output samples along one axis, the input samples (of `n`) and
/// their weights: area averaging when shrinking, bilinear when enlarging.
fn axis_weights(n: usize, m: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = n as f64 / m as f64;
    (0..m)
        .map(|j| {
            if m == n {
                vec![(j, 1.0)]
            } else if m < n {
                // Output pixel j covers input span [lo, hi); each input pixel
                // counts by how much of it lies inside.
                let (lo, hi) = (j as f64 * scale, (j + 1) as f64 * scale);
                let first = lo.floor() as usize;
                let last = (hi.ceil() as usize).min(n);
                (first..last)
                    .map(|i| {
                        let overlap = hi.min(i as f64 + 1.0) - lo.max(i as f64);
                        (i, (overlap / scale) as f32)
                    })
                    .filter(|&(_, w)| w > 0.0)
                    .collect()
            } else {
                let x = ((j as f64 + 0.5) * scale - 0.5).clamp(0.0, (n - 1) as f64);
                let i0 = x.floor() as usize;
                let i1 = (i0 + 1).min(n - 1);
                let f = (x - i0 as f64) as f32;
                vec![(i0, 1.0 - f), (i1, f)]
            }
        })
        .collect()
}

/// Resamples a `w x h` image to `tw x th`, one axis after the other.
fn resize(src: &[f32], w: usize, h: usize, tw: usize, th: usize) -> Vec<f32> {
    let across = axis_weights(w, tw);
    let mut wide = vec![0.0f32; tw * h];
    for (row, out) in src.chunks_exact(w).zip(wide.chunks_exact_mut(tw)) {
        for (o, taps) in out.iter_mut().zip(&across) {
            *o = taps.iter().map(|&(i, wt)| row[i] * wt).sum();
        }
    }
    let down = axis_weights(h, th);
    let mut out = vec![0.0f32; tw * th];
    for (out_row, taps) in out.chunks_exact_mut(tw).zip(&down) {
        for &(i, wt) in taps {
            for (o, &v) in out_row.iter_mut().zip(&wide[i * tw..(i + 1) * tw]) {
                *o += v * wt;
            }
        }
    }
    out
}

/// Places a `w x h` box (at most 20x20) in the 28x28 field, shifted by whole
/// pixels so that its centre of mass is within half a pixel of (14, 14).
fn place_centred(pixels: &[u8], w: usize, h: usize) -> [u8; DIGIT_PIXELS] {
    let (mut mass, mut sum_r, mut sum_c) = (0.0f64, 0.0f64, 0.0f64);
    for (r, row) in pixels.chunks_exact(w).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            let v = f64::from(v);
            mass += v;
            sum_r += v * r as f64;
            sum_c += v * c as f64;
        }
    }
    // Scaling can fade a speck of ink to nothing: then the box's middle is used.
    let (com_r, com_c) = if mass > 0.0 {
        (sum_r / mass, sum_c / mass)
    } else {
        ((h as f64 - 1.0) / 2.0, (w as f64 - 1.0) / 2.0)
    };
    let top = (CENTRE - com_r).round() as isize;
    let left = (CENTRE - com_c).round() as isize;
    let mut field = [0u8; DIGIT_PIXELS];
    for (r, row) in pixels.chunks_exact(w).enumerate() {
        let Some(y) = r.checked_add_signed(top).filter(|&y| y < DIGIT_SIDE) else {
            continue;
        };
        for (c, &v) in row.iter().enumerate() {
            if let Some(x) = c.checked_add_signed(left).filter(|&x| x < DIGIT_SIDE) {
                field[y * DIGIT_SIDE + x] = v;
            }
        }
    }
    field
}

/// Reads a PNG or JPEG file and prepares it with [`prepare_digit`]; every error
/// names the file.
#[cfg(feature = "image")]
pub fn load_digit(path: &Path) -> Result<[u8; DIGIT_PIXELS], DataError> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DataError::Missing {
            path: path.to_path_buf(),
            also_tried: Vec::new(),
        },
        _ => DataError::io(path, "read", e),
    })?;
    let image = decode_grey(path, &bytes)?;
    prepare_digit(&image.pixels, image.width, image.height).map_err(|e| match e {
        DataError::NoInk { contrast, .. } => DataError::NoInk {
            path: Some(path.to_path_buf()),
            contrast,
        },
        other => other,
    })
}

/// Decodes PNG or JPEG bytes (told apart by their signature) into greyscale;
/// `path` is only for the errors.
///
/// A JPEG's EXIF orientation is applied (phone photos are often stored
/// sideways). Transparent pixels are laid over white when the opaque ones are
/// mostly dark (dark ink on a transparent sheet) and over black otherwise, so
/// the ink keeps its contrast either way.
#[cfg(feature = "image")]
pub fn decode_grey(path: &Path, bytes: &[u8]) -> Result<GreyImage, DataError> {
    use image::{DynamicImage, ImageDecoder, ImageFormat};

    let not_an_image = |reason: String| DataError::NotAnImage {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.is_empty() {
        return Err(not_an_image("the file is empty (0 bytes)".into()));
    }
    let format = match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => f,
        Ok(other) => {
            let name = other.extensions_str().first().copied().unwrap_or("other");
            return Err(not_an_image(format!(
                "it is a {} image; only PNG and JPEG are read",
                name.to_uppercase()
            )));
        }
        Err(_) => return Err(not_an_image(unknown_format_reason(bytes))),
    };
    let format_name = if format == ImageFormat::Png {
        "PNG"
    } else {
        "JPEG"
    };
    let bad = |e: image::ImageError| DataError::BadImage {
        path: path.to_path_buf(),
        format: format_name,
        reason: e.to_string(),
    };
    let mut decoder = image::ImageReader::with_format(std::io::Cursor::new(bytes), format)
        .into_decoder()
        .map_err(bad)?;
    // Damaged EXIF data should not stop an image that decodes: it is then upright.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut decoded = DynamicImage::from_decoder(decoder).map_err(bad)?;
    decoded.apply_orientation(orientation);
    let (width, height) = (decoded.width() as usize, decoded.height() as usize);
    let pixels = if decoded.color().has_alpha() {
        flatten_alpha(decoded.to_luma_alpha8().as_raw())
    } else {
        decoded.to_luma8().into_raw()
    };
    Ok(GreyImage {
        width,
        height,
        pixels,
    })
}

/// Greyscale bytes from grey-alpha pairs, transparent parts laid over the
/// backdrop that contrasts with the opaque parts.
#[cfg(feature = "image")]
fn flatten_alpha(grey_alpha: &[u8]) -> Vec<u8> {
    let pairs = grey_alpha.chunks_exact(2);
    if pairs.clone().all(|p| p[1] == 255) {
        return pairs.map(|p| p[0]).collect();
    }
    let (sum, count) = pairs
        .clone()
        .filter(|p| p[1] >= 128)
        .fold((0u64, 0u64), |(s, n), p| (s + u64::from(p[0]), n + 1));
    let backdrop: u32 = if count > 0 && sum / count > 127 {
        0
    } else {
        255
    };
    pairs
        .map(|p| {
            let (v, a) = (u32::from(p[0]), u32::from(p[1]));
            ((v * a + backdrop * (255 - a) + 127) / 255) as u8
        })
        .collect()
}

/// Why bytes with no known image signature are not an image, for the error.
#[cfg(feature = "image")]
fn unknown_format_reason(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(64)];
    let text = head
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if text {
        "it looks like text; a PNG or JPEG image was expected".into()
    } else {
        "its first bytes are neither a PNG nor a JPEG signature".into()
    }
}

#[cfg(test)]
mod tests;
