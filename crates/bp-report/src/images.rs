//! Small images for the page: digits and weight pictures as PNG, and data URIs.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::ReportError;

/// The diverging colour map's stops, from -1 to 1: dark blue, blue, near
/// white, red, dark red (ColorBrewer's RdBu, Apache-2.0, reversed so positive
/// is red).
const DIVERGING: [[f64; 3]; 5] = [
    [5.0, 48.0, 97.0],
    [67.0, 147.0, 195.0],
    [247.0, 247.0, 247.0],
    [214.0, 96.0, 77.0],
    [103.0, 0.0, 31.0],
];

/// The diverging colour of `t` in `[-1, 1]` (clamped; NaN is the middle):
/// blue for negative, near white for 0, red for positive.
pub fn diverging_color(t: f64) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(-1.0, 1.0) };
    let pos = (t + 1.0) * 2.0;
    let k = (pos.floor() as usize).min(DIVERGING.len() - 2);
    let f = pos - k as f64;
    let (a, b) = (DIVERGING[k], DIVERGING[k + 1]);
    std::array::from_fn(|c| (a[c] + (b[c] - a[c]) * f).round() as u8)
}

/// Encodes row-major greyscale pixels as an 8-bit PNG.
pub fn encode_grey_png(width: usize, height: usize, pixels: &[u8]) -> Result<Vec<u8>, ReportError> {
    encode(width, height, pixels, png::ColorType::Grayscale, 1)
}

/// Encodes row-major RGB pixels (3 bytes each) as an 8-bit PNG.
pub fn encode_rgb_png(width: usize, height: usize, rgb: &[u8]) -> Result<Vec<u8>, ReportError> {
    encode(width, height, rgb, png::ColorType::Rgb, 3)
}

fn encode(
    width: usize,
    height: usize,
    data: &[u8],
    color: png::ColorType,
    channels: usize,
) -> Result<Vec<u8>, ReportError> {
    let image = |m: String| ReportError::Image(m);
    let (w, h) = match (u32::try_from(width), u32::try_from(height)) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => (w, h),
        _ => return Err(image(format!("invalid image size {width}x{height}"))),
    };
    if width
        .checked_mul(height)
        .and_then(|n| n.checked_mul(channels))
        != Some(data.len())
    {
        return Err(image(format!(
            "{} bytes for a {width}x{height} image of {channels} channel(s)",
            data.len()
        )));
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| image(e.to_string()))?;
        writer
            .write_image_data(data)
            .map_err(|e| image(e.to_string()))?;
        writer.finish().map_err(|e| image(e.to_string()))?;
    }
    Ok(out)
}

/// A `data:` URI holding `bytes` of type `mime`, base64-encoded.
pub(crate) fn data_uri(mime: &str, bytes: &[u8]) -> String {
    format!("data:{mime};base64,{}", STANDARD.encode(bytes))
}

/// Base64 of the little-endian bytes of `values`.
pub(crate) fn f32_base64(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    STANDARD.encode(bytes)
}

/// The weights into hidden unit `unit` (column `unit` of the row-major
/// `inputs x outputs` matrix), as an RGB picture of `width x height`, each
/// scaled by the column's largest magnitude.
pub(crate) fn weight_picture(
    weights: &[f32],
    outputs: usize,
    unit: usize,
    width: usize,
    height: usize,
) -> Result<(Vec<u8>, f32), ReportError> {
    let column: Vec<f32> = (0..width * height)
        .map(|i| weights.get(i * outputs + unit).copied().unwrap_or(0.0))
        .collect();
    let max = column.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let scale = if max > 0.0 { 1.0 / f64::from(max) } else { 0.0 };
    let rgb: Vec<u8> = column
        .iter()
        .flat_map(|&v| diverging_color(f64::from(v) * scale))
        .collect();
    Ok((encode_rgb_png(width, height, &rgb)?, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_colour_map_diverges_from_near_white() {
        assert_eq!(diverging_color(0.0), [247, 247, 247]);
        assert_eq!(diverging_color(-1.0), [5, 48, 97]);
        assert_eq!(diverging_color(1.0), [103, 0, 31]);
        assert_eq!(diverging_color(7.0), [103, 0, 31]);
        assert_eq!(diverging_color(f64::NAN), [247, 247, 247]);
        let [r, _, b] = diverging_color(0.3);
        assert!(r > b, "positive is red");
        let [r, _, b] = diverging_color(-0.3);
        assert!(b > r, "negative is blue");
    }

    #[test]
    fn pngs_encode_and_bad_sizes_are_errors() {
        let png = encode_grey_png(2, 2, &[0, 64, 128, 255]).unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        assert!(encode_grey_png(2, 2, &[0; 3]).is_err());
        assert!(encode_rgb_png(0, 2, &[]).is_err());
        assert!(data_uri("image/png", &png).starts_with("data:image/png;base64,iVBOR"));
        assert_eq!(f32_base64(&[1.0]), "AACAPw==");
    }
}
