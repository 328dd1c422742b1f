//! Accuracy and loss plots (PNG and SVG) for backprop training histories,
//! rendered without system fonts or libraries.
//!
//! The accuracy figure is the one "Deep Learning from Scratch" (chapter 5) draws
//! with matplotlib: x = epochs `0..n`, y = accuracy from 0 to 1, train accuracy
//! as a solid line with circle markers (`train acc`), test accuracy as a dashed
//! line with square markers (`test acc`), legend lower right, axis labels
//! `epochs` and `accuracy`. [`plot_loss`] draws the loss per iteration with a
//! moving average over it, and [`plot_grad_norms`] each parameter's gradient
//! norm over training on a log axis. The `render_*` functions return the
//! encoded image instead of writing a file (a report embeds them).
//!
//! The crate takes plain slices and knows nothing about training, so it can plot
//! any history. The output format follows the file extension (`.png` or `.svg`);
//! files are written atomically (a temporary file in the same directory, then a
//! rename) and a missing output directory is created. Text is drawn with an
//! embedded copy of DejaVu Sans, so no system font, fontconfig or freetype is
//! needed. The [`graph`] module draws computational graphs with their values
//! and gradients the same way.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let train = [0.10, 0.78, 0.88, 0.90, 0.91];
//! let test = [0.10, 0.79, 0.88, 0.90, 0.91];
//! bp_plot::plot_accuracy(&dir.path().join("out/accuracy.png"), &train, &test)?;
//! bp_plot::plot_accuracy(&dir.path().join("out/accuracy.svg"), &train, &test)?;
//! bp_plot::plot_loss(&dir.path().join("out/loss.png"), &[2.30, 1.10, 0.60, 0.45, 0.40])?;
//! assert!(dir.path().join("out/accuracy.png").is_file());
//! let norms = vec![("W1".to_string(), vec![0.9, 0.3, 0.2]), ("b1".to_string(), vec![0.1, 0.04, 0.03])];
//! let png = bp_plot::render_grad_norms(bp_plot::Format::Png, &[0, 600, 1200], &norms, &Default::default())?;
//! assert!(png.starts_with(b"\x89PNG"));
//!
//! // An empty or inconsistent history is an error, never a panic.
//! let err = bp_plot::plot_accuracy(&dir.path().join("bad.png"), &train, &test[..2]);
//! assert!(matches!(err, Err(bp_plot::PlotError::LengthMismatch { .. })));
//! # Ok(())
//! # }
//! ```

use std::fmt::Display;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

mod grad_norms;
pub mod graph;

/// The plotting library: the colour constants below are its [`RGBColor`]s,
/// re-exported so a caller names the very version bp-plot was built with.
pub use plotters;

pub use grad_norms::{plot_grad_norms, render_grad_norms, GRAD_NORM_SERIES, SERIES_COLORS};

/// Colour of the train accuracy series (matplotlib's first default colour, `tab:blue`).
pub const TRAIN_COLOR: RGBColor = RGBColor(31, 119, 180);
/// Colour of the test accuracy series (matplotlib's second default colour, `tab:orange`).
pub const TEST_COLOR: RGBColor = RGBColor(255, 127, 14);
/// Colour of the raw loss curve (a light blue, drawn under the moving average).
pub const LOSS_COLOR: RGBColor = RGBColor(164, 201, 228);
/// Colour of the loss moving average.
pub const LOSS_AVG_COLOR: RGBColor = RGBColor(31, 119, 180);
/// Default image size in pixels (width, height).
pub const DEFAULT_SIZE: (u32, u32) = (800, 600);
/// Largest accepted width or height in pixels.
pub const MAX_SIDE: u32 = 16_384;

/// Name of the series of train accuracies in errors and in the legend.
pub const TRAIN_SERIES: &str = "train acc";
/// Name of the series of test accuracies in errors and in the legend.
pub const TEST_SERIES: &str = "test acc";
/// Name of the loss series in errors and in the legend.
pub const LOSS_SERIES: &str = "loss";

/// The embedded font (DejaVu Sans, Bitstream Vera licence: see `fonts/LICENSE-DejaVu`).
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
/// Family name the embedded font is registered under (plotters' default family).
const FONT_FAMILY: &str = "sans-serif";

/// Everything that can go wrong while plotting.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A series has no value at all.
    #[error("series `{series}` is empty: nothing to plot")]
    EmptySeries {
        /// The series' name (`train acc`, `test acc` or `loss`).
        series: &'static str,
    },
    /// The train and test accuracy series have different lengths.
    #[error("series lengths differ: `train acc` has {train} values, `test acc` has {test}")]
    LengthMismatch {
        /// Number of train accuracies.
        train: usize,
        /// Number of test accuracies.
        test: usize,
    },
    /// A value is NaN or infinite.
    #[error("series `{series}` has a non-finite value ({value}) at index {index}")]
    NonFinite {
        /// The series' name.
        series: &'static str,
        /// Index of the first non-finite value.
        index: usize,
        /// The value itself.
        value: f64,
    },
    /// An accuracy lies outside `[0, 1]`.
    #[error("series `{series}` has an accuracy outside [0, 1] ({value}) at index {index}")]
    OutOfRange {
        /// The series' name.
        series: &'static str,
        /// Index of the first value out of range.
        index: usize,
        /// The value itself.
        value: f64,
    },
    /// A series of a multi-series figure has the wrong number of values.
    #[error("series `{name}` has {len} values, expected {expected}")]
    SeriesLength {
        /// The series' name.
        name: String,
        /// Its number of values.
        len: usize,
        /// The number of x values.
        expected: usize,
    },
    /// A value that cannot be negative (a norm) is.
    #[error("series `{series}` has a negative value ({value}) at index {index}")]
    Negative {
        /// The series' name.
        series: &'static str,
        /// Index of the first negative value.
        index: usize,
        /// The value itself.
        value: f64,
    },
    /// The path's extension is neither `.png` nor `.svg`.
    #[error("cannot tell the image format of {}: use a .png or .svg extension", path.display())]
    UnsupportedFormat {
        /// The path given.
        path: PathBuf,
    },
    /// The requested image size is zero or too large.
    #[error("invalid image size {width}x{height}: each side must be between 1 and {MAX_SIDE}")]
    InvalidSize {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
    /// Creating the directory or writing the file failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The path being written or created.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A graph to draw has no nodes, an edge to a missing node, or a cycle.
    #[error("invalid graph: {0}")]
    InvalidGraph(String),
    /// The embedded font could not be loaded.
    #[error("the embedded font could not be loaded")]
    Font,
    /// The drawing backend or the PNG encoder failed.
    #[error("drawing failed: {0}")]
    Drawing(String),
}

/// Output image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PNG (RGB, 8 bits per channel).
    Png,
    /// SVG (text as `<text>` elements with the `sans-serif` family).
    Svg,
}

impl Format {
    /// The format for a path's extension (`png` or `svg`, any case).
    pub fn from_path(path: &Path) -> Result<Self, PlotError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("png") => Ok(Self::Png),
            Some("svg") => Ok(Self::Svg),
            _ => Err(PlotError::UnsupportedFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Options for the `*_with` functions; `PlotOptions::default()` is what the plain ones use.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotOptions {
    /// Image size in pixels (width, height); SVG uses it as its user units.
    pub size: (u32, u32),
    /// Optional title above the plot (the seed's figure has none).
    pub title: Option<String>,
    /// The accuracy figure's x-axis label (the seed's: `epochs`), for
    /// histories evaluated on another schedule.
    pub x_label: String,
}

impl Default for PlotOptions {
    fn default() -> Self {
        Self {
            size: DEFAULT_SIZE,
            title: None,
            x_label: "epochs".into(),
        }
    }
}

/// Plots train and test accuracy per evaluation (x = epochs `0..n`) to a `.png` or `.svg` file.
pub fn plot_accuracy(path: &Path, train_acc: &[f64], test_acc: &[f64]) -> Result<(), PlotError> {
    plot_accuracy_with(path, train_acc, test_acc, &PlotOptions::default())
}

/// [`plot_accuracy`] with a chosen size and title.
pub fn plot_accuracy_with(
    path: &Path,
    train_acc: &[f64],
    test_acc: &[f64],
    options: &PlotOptions,
) -> Result<(), PlotError> {
    let format = Format::from_path(path)?;
    let bytes = render_accuracy(format, train_acc, test_acc, options)?;
    write_atomic(path, &bytes)
}

/// Renders the accuracy figure into memory (PNG bytes or SVG text as UTF-8).
pub fn render_accuracy(
    format: Format,
    train_acc: &[f64],
    test_acc: &[f64],
    options: &PlotOptions,
) -> Result<Vec<u8>, PlotError> {
    check_accuracy(TRAIN_SERIES, train_acc)?;
    check_accuracy(TEST_SERIES, test_acc)?;
    if train_acc.len() != test_acc.len() {
        return Err(PlotError::LengthMismatch {
            train: train_acc.len(),
            test: test_acc.len(),
        });
    }
    render(format, options, |root| {
        draw_accuracy(root, train_acc, test_acc, options)
    })
}

/// Plots the loss per iteration (a light raw curve and its moving average) to a `.png` or `.svg` file.
pub fn plot_loss(path: &Path, loss: &[f64]) -> Result<(), PlotError> {
    plot_loss_with(path, loss, &PlotOptions::default())
}

/// [`plot_loss`] with a chosen size and title.
pub fn plot_loss_with(path: &Path, loss: &[f64], options: &PlotOptions) -> Result<(), PlotError> {
    let format = Format::from_path(path)?;
    let bytes = render_loss(format, loss, options)?;
    write_atomic(path, &bytes)
}

/// Renders the loss figure into memory (PNG bytes or SVG text as UTF-8).
pub fn render_loss(
    format: Format,
    loss: &[f64],
    options: &PlotOptions,
) -> Result<Vec<u8>, PlotError> {
    check_finite(LOSS_SERIES, loss)?;
    render(format, options, |root| draw_loss(root, loss, options))
}

/// Window of the moving average drawn over a loss curve of `n` points (1 means none).
pub fn moving_average_window(n: usize) -> usize {
    (n / 50).clamp(1, 500)
}

/// Centred moving average over `window` values (the window shrinks at both ends, so the
/// curve neither lags nor jumps); empty in, empty out.
pub fn moving_average(values: &[f64], window: usize) -> Vec<f64> {
    let half = window.max(1) / 2;
    let mut prefix = Vec::with_capacity(values.len() + 1);
    prefix.push(0.0);
    let mut sum = 0.0;
    for v in values {
        sum += v;
        prefix.push(sum);
    }
    (0..values.len())
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + half + 1).min(values.len());
            (prefix[hi] - prefix[lo]) / (hi - lo) as f64
        })
        .collect()
}

fn check_finite(series: &'static str, values: &[f64]) -> Result<(), PlotError> {
    if values.is_empty() {
        return Err(PlotError::EmptySeries { series });
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(PlotError::NonFinite {
            series,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

fn check_accuracy(series: &'static str, values: &[f64]) -> Result<(), PlotError> {
    check_finite(series, values)?;
    match values.iter().position(|v| !(0.0..=1.0).contains(v)) {
        Some(index) => Err(PlotError::OutOfRange {
            series,
            index,
            value: values[index],
        }),
        None => Ok(()),
    }
}

fn drawing<E: Display>(e: E) -> PlotError {
    PlotError::Drawing(e.to_string())
}

/// Registers the embedded font once per process.
fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

/// Sets up a white backend of the right kind, lets `draw` paint on it and returns the encoded image.
fn render<F>(format: Format, options: &PlotOptions, draw: F) -> Result<Vec<u8>, PlotError>
where
    F: FnOnce(DynArea<'_>) -> Result<(), PlotError>,
{
    render_compressed(format, options, png::Compression::Default, draw)
}

/// [`render`] with a chosen PNG compression.
fn render_compressed<F>(
    format: Format,
    options: &PlotOptions,
    compression: png::Compression,
    draw: F,
) -> Result<Vec<u8>, PlotError>
where
    F: FnOnce(DynArea<'_>) -> Result<(), PlotError>,
{
    ensure_font()?;
    let (width, height) = options.size;
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(PlotError::InvalidSize { width, height });
    }
    match format {
        Format::Png => {
            // Each side is at most MAX_SIDE, so this cannot overflow.
            let mut buf = vec![0u8; width as usize * height as usize * 3];
            {
                let root =
                    BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
                root.fill(&WHITE).map_err(drawing)?;
                draw(DynArea::Bitmap(root.clone()))?;
                root.present().map_err(drawing)?;
            }
            encode_png(&buf, width, height, compression)
        }
        Format::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, (width, height)).into_drawing_area();
                root.fill(&WHITE).map_err(drawing)?;
                draw(DynArea::Svg(root.clone()))?;
                root.present().map_err(drawing)?;
            }
            Ok(text.into_bytes())
        }
    }
}

fn encode_png(
    rgb: &[u8],
    width: u32,
    height: u32,
    compression: png::Compression,
) -> Result<Vec<u8>, PlotError> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_compression(compression);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(drawing)?;
        writer.write_image_data(rgb).map_err(drawing)?;
        writer.finish().map_err(drawing)?;
    }
    Ok(out)
}

/// The two kinds of drawing area, so the figures are written once for both backends.
enum DynArea<'a> {
    Bitmap(DrawingArea<BitMapBackend<'a>, Shift>),
    Svg(DrawingArea<SVGBackend<'a>, Shift>),
}

fn draw_accuracy(
    area: DynArea<'_>,
    train: &[f64],
    test: &[f64],
    options: &PlotOptions,
) -> Result<(), PlotError> {
    match area {
        DynArea::Bitmap(root) => accuracy_figure(&root, options, train, test),
        DynArea::Svg(root) => accuracy_figure(&root, options, train, test),
    }
}

fn draw_loss(area: DynArea<'_>, loss: &[f64], options: &PlotOptions) -> Result<(), PlotError> {
    match area {
        DynArea::Bitmap(root) => loss_figure(&root, options, loss),
        DynArea::Svg(root) => loss_figure(&root, options, loss),
    }
}

/// Tick label for an x value: integers only (epochs and iterations are whole numbers).
fn integer_tick(x: &f64) -> String {
    if *x >= -1e-9 && (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        String::new()
    }
}

/// x range with matplotlib's 5 % margins around `0..=last`.
fn x_range(last: f64) -> (f64, f64) {
    if last <= 0.0 {
        (-1.0, 1.0)
    } else {
        (-0.05 * last, 1.05 * last)
    }
}

/// The legend every figure draws: a translucent box at `position`.
fn draw_legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    scale: f64,
) -> Result<(), PlotError>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .margin((12.0 * scale) as i32)
        .legend_area_size((40.0 * scale).max(36.0) as i32)
        .label_font(font((18.0 * scale).max(13.0)))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(204, 204, 204))
        .draw()
        .map_err(drawing)
}

fn font(size: f64) -> TextStyle<'static> {
    (FONT_FAMILY, size).into_font().color(&BLACK)
}

/// How much larger than 800x600 a figure is drawn: fonts, margins and lines scale with it.
fn figure_scale(options: &PlotOptions) -> f64 {
    f64::from(options.size.1.min(options.size.0 * 3 / 4)) / 600.0
}

/// A chart on `root` with the figures' margins, label areas and title.
fn chart_builder<'a, 'b, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    scale: f64,
    options: &PlotOptions,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(root);
    builder
        .margin((20.0 * scale) as i32)
        .x_label_area_size((60.0 * scale).max(48.0) as i32)
        .y_label_area_size((80.0 * scale).max(62.0) as i32);
    if let Some(title) = &options.title {
        builder.caption(title, font((26.0 * scale).max(16.0)));
    }
    builder
}

/// What sets one figure's axes apart: tick counts, the y tick format and the axis names.
struct Axes<'a> {
    x_labels: usize,
    y_labels: usize,
    y_format: &'a dyn Fn(&f64) -> String,
    x_desc: &'a str,
    y_desc: &'a str,
}

/// The figures' axes: integer x ticks, black axes and the full box matplotlib draws.
fn draw_axes<DB, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    axes: &Axes<'_>,
    scale: f64,
) -> Result<(), PlotError>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut mesh = chart.configure_mesh();
    mesh.disable_mesh()
        .x_labels(axes.x_labels)
        .y_labels(axes.y_labels)
        .x_label_formatter(&integer_tick)
        .y_label_formatter(axes.y_format)
        .x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .label_style(font((18.0 * scale).max(13.0)))
        .axis_desc_style(font((21.0 * scale).max(15.0)))
        .axis_style(BLACK.stroke_width(1));
    mesh.draw().map_err(drawing)?;
    // A closed path rather than a Rectangle: a Rectangle loses its far sides on a log axis.
    let (x0, x1) = (chart.x_range().start, chart.x_range().end);
    let (y0, y1) = (chart.y_range().start, chart.y_range().end);
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(x0, y0), (x0, y1), (x1, y1), (x1, y0), (x0, y0)],
            BLACK.stroke_width(1),
        )))
        .map_err(drawing)?;
    Ok(())
}

fn accuracy_figure<DB>(
    root: &DrawingArea<DB, Shift>,
    options: &PlotOptions,
    train: &[f64],
    test: &[f64],
) -> Result<(), PlotError>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let n = train.len();
    let (x0, x1) = x_range((n - 1) as f64);
    let scale = figure_scale(options);
    let mut chart = chart_builder(root, scale, options)
        .build_cartesian_2d(x0..x1, 0.0..1.0)
        .map_err(drawing)?;

    let axes = Axes {
        x_labels: n.clamp(2, 10),
        y_labels: 6,
        y_format: &|y| format!("{y:.1}"),
        x_desc: &options.x_label,
        y_desc: "accuracy",
    };
    draw_axes(&mut chart, &axes, scale)?;

    let line = (2.0 * scale).round().max(1.0) as u32;
    let marker = (5.0 * scale).round().max(2.0) as i32;
    let train_pts: Vec<(f64, f64)> = train
        .iter()
        .enumerate()
        .map(|(i, &a)| (i as f64, a))
        .collect();
    let test_pts: Vec<(f64, f64)> = test
        .iter()
        .enumerate()
        .map(|(i, &a)| (i as f64, a))
        .collect();
    let train_style = TRAIN_COLOR.stroke_width(line);
    let test_style = TEST_COLOR.stroke_width(line);

    chart
        .draw_series(LineSeries::new(train_pts.iter().copied(), train_style))
        .map_err(drawing)?
        .label(TRAIN_SERIES)
        .legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (30, 0)], train_style)
                + Circle::new((15, 0), marker, TRAIN_COLOR.filled())
        });
    chart
        .draw_series(
            train_pts
                .iter()
                .map(|&p| Circle::new(p, marker, TRAIN_COLOR.filled())),
        )
        .map_err(drawing)?;

    let dash = (10.0 * scale).round().max(2.0) as i32;
    let gap = (6.0 * scale).round().max(2.0) as i32;
    chart
        .draw_series(DashedLineSeries::new(
            test_pts.iter().copied(),
            dash,
            gap,
            test_style,
        ))
        .map_err(drawing)?
        .label(TEST_SERIES)
        .legend(move |(x, y)| {
            EmptyElement::at((x, y))
                + PathElement::new(vec![(0, 0), (8, 0)], test_style)
                + PathElement::new(vec![(22, 0), (30, 0)], test_style)
                + Rectangle::new(
                    [(15 - marker, -marker), (15 + marker, marker)],
                    TEST_COLOR.filled(),
                )
        });
    chart
        .draw_series(test_pts.iter().map(|&p| {
            EmptyElement::at(p)
                + Rectangle::new([(-marker, -marker), (marker, marker)], TEST_COLOR.filled())
        }))
        .map_err(drawing)?;

    draw_legend(&mut chart, SeriesLabelPosition::LowerRight, scale)
}

fn loss_figure<DB>(
    root: &DrawingArea<DB, Shift>,
    options: &PlotOptions,
    loss: &[f64],
) -> Result<(), PlotError>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let n = loss.len();
    let (x0, x1) = x_range((n - 1) as f64);
    let lo = loss.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = loss.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (y0, y1) = loss_y_range(lo, hi);
    let scale = figure_scale(options);
    let mut chart = chart_builder(root, scale, options)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(drawing)?;
    let axes = Axes {
        x_labels: n.clamp(2, 10),
        y_labels: 8,
        y_format: &|y| format_loss_tick(*y),
        x_desc: "iterations",
        y_desc: "loss",
    };
    draw_axes(&mut chart, &axes, scale)?;

    let line = (2.0 * scale).round().max(1.0) as u32;
    let points = loss.iter().enumerate().map(|(i, &l)| (i as f64, l));
    let window = moving_average_window(n);
    // With no moving average over it, the raw curve is the only line: draw it in the strong colour.
    let raw = if window > 1 {
        LOSS_COLOR.stroke_width(1)
    } else {
        LOSS_AVG_COLOR.stroke_width(line)
    };
    if n == 1 {
        chart
            .draw_series(std::iter::once(Circle::new(
                (0.0, loss[0]),
                (5.0 * scale).round().max(2.0) as i32,
                LOSS_AVG_COLOR.filled(),
            )))
            .map_err(drawing)?
            .label(LOSS_SERIES)
            .legend(move |(x, y)| Circle::new((x + 15, y), 5, LOSS_AVG_COLOR.filled()));
    } else {
        chart
            .draw_series(LineSeries::new(points, raw))
            .map_err(drawing)?
            .label(LOSS_SERIES)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], raw));
    }
    if window > 1 {
        let avg = moving_average(loss, window);
        let style = LOSS_AVG_COLOR.stroke_width(line);
        chart
            .draw_series(LineSeries::new(
                avg.iter().enumerate().map(|(i, &l)| (i as f64, l)),
                style,
            ))
            .map_err(drawing)?
            .label(format!("moving average ({window})"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 30, y)], style));
    }
    draw_legend(&mut chart, loss_legend_position(loss, y0, y1), scale)
}

/// Upper right, where a falling loss curve leaves room, unless the curve's last
/// tenth lies in the upper half of the plot: then lower right.
fn loss_legend_position(loss: &[f64], y0: f64, y1: f64) -> SeriesLabelPosition {
    let tail = &loss[loss.len() - loss.len().div_ceil(10)..];
    let mean = tail.iter().sum::<f64>() / tail.len() as f64;
    if mean > y0 + 0.5 * (y1 - y0) {
        SeriesLabelPosition::LowerRight
    } else {
        SeriesLabelPosition::UpperRight
    }
}

/// y range of the loss plot: from 0 (or the minimum if negative) to the maximum plus 5 %.
fn loss_y_range(lo: f64, hi: f64) -> (f64, f64) {
    let lo = lo.min(0.0);
    let span = hi - lo;
    if span <= f64::EPSILON * hi.abs().max(1.0) {
        // Constant zero loss (or a range too small to draw): show a unit band.
        return (lo - 0.5, hi + 0.5);
    }
    // Keep the range finite even for huge values.
    let pad = (0.05 * span).min(f64::MAX / 4.0);
    let lo = if lo < 0.0 { lo - pad } else { lo };
    (lo, hi + pad)
}

fn format_loss_tick(y: f64) -> String {
    let a = y.abs();
    if a == 0.0 {
        "0".to_string()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{y:.1e}")
    } else if a >= 100.0 {
        format!("{y:.0}")
    } else if a >= 1.0 {
        format!("{y:.1}")
    } else {
        format!("{y:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

/// Writes `bytes` to a temporary file next to `path`, then renames it over
/// `path`, so no half-written file is ever seen under its name (a missing
/// directory is created). The plots are written this way; so is bp-report's page.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| PlotError::Io { path: p, source }
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // An ordinary file: 0o666 less the umask, not tempfile's private 0o600.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io(tmp.path()))?;
    tmp.persist(path).map_err(|e| PlotError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_average_is_centred() {
        assert_eq!(moving_average(&[], 3), Vec::<f64>::new());
        assert_eq!(
            moving_average(&[1.0, 2.0, 3.0, 4.0, 5.0], 3),
            vec![1.5, 2.0, 3.0, 4.0, 4.5]
        );
        assert_eq!(moving_average(&[1.0, 2.0], 1), vec![1.0, 2.0]);
    }

    #[test]
    fn formats_from_extension() {
        assert_eq!(
            Format::from_path(Path::new("a/b.PNG")).ok(),
            Some(Format::Png)
        );
        assert_eq!(
            Format::from_path(Path::new("b.svg")).ok(),
            Some(Format::Svg)
        );
        assert!(matches!(
            Format::from_path(Path::new("b.jpg")),
            Err(PlotError::UnsupportedFormat { .. })
        ));
        assert!(Format::from_path(Path::new("noext")).is_err());
    }

    #[test]
    fn integer_ticks_only() {
        assert_eq!(integer_tick(&3.0), "3");
        assert_eq!(integer_tick(&2.5), "");
        assert_eq!(integer_tick(&-1.0), "");
    }

    #[test]
    fn loss_ranges_are_never_empty() {
        let (a, b) = loss_y_range(0.0, 0.0);
        assert!(a < b);
        let (a, b) = loss_y_range(2.0, 2.0);
        assert!(a <= 0.0 && b > 2.0);
        let (a, b) = loss_y_range(-1.0, 1.0);
        assert!(a < -1.0 && b > 1.0);
    }
}
