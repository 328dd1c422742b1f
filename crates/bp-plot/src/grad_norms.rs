//! The gradient-norm figure: one line per parameter (`W1 b1 W2 b2 ...`) over
//! the iterations at which they were recorded, on a log y axis.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    chart_builder, draw_axes, draw_legend, drawing, figure_scale, render, write_atomic, x_range,
    Axes, DynArea,
};
use super::{Format, PlotError, PlotOptions};

/// Name of the gradient-norm series in errors.
pub const GRAD_NORM_SERIES: &str = "gradient norms";

/// Colours of the gradient-norm lines, in order (matplotlib's `tab10`), reused
/// from the first for nets with more parameters.
pub const SERIES_COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Plots each named series of gradient norms against `iters` (log y axis) to a `.png` or `.svg` file.
pub fn plot_grad_norms(
    path: &Path,
    iters: &[usize],
    series: &[(String, Vec<f64>)],
) -> Result<(), PlotError> {
    let format = Format::from_path(path)?;
    let bytes = render_grad_norms(format, iters, series, &PlotOptions::default())?;
    write_atomic(path, &bytes)
}

/// Renders the gradient-norm figure into memory (PNG bytes or SVG text as UTF-8).
///
/// Every series needs one value per entry of `iters`, each finite and not
/// negative; zeros cannot be drawn on a log axis, so they break the line.
pub fn render_grad_norms(
    format: Format,
    iters: &[usize],
    series: &[(String, Vec<f64>)],
    options: &PlotOptions,
) -> Result<Vec<u8>, PlotError> {
    if iters.is_empty() || series.is_empty() {
        return Err(PlotError::EmptySeries {
            series: GRAD_NORM_SERIES,
        });
    }
    let mut positive = Vec::new();
    for (name, values) in series {
        if values.len() != iters.len() {
            return Err(PlotError::SeriesLength {
                name: name.clone(),
                len: values.len(),
                expected: iters.len(),
            });
        }
        if let Some(index) = values.iter().position(|v| !v.is_finite() || *v < 0.0) {
            let value = values[index];
            return Err(if value.is_finite() {
                PlotError::Negative {
                    series: GRAD_NORM_SERIES,
                    index,
                    value,
                }
            } else {
                PlotError::NonFinite {
                    series: GRAD_NORM_SERIES,
                    index,
                    value,
                }
            });
        }
        positive.extend(values.iter().copied().filter(|v| *v > 0.0));
    }
    render(format, options, |root| {
        draw(root, iters, series, &positive, options)
    })
}

fn draw(
    area: DynArea<'_>,
    iters: &[usize],
    series: &[(String, Vec<f64>)],
    positive: &[f64],
    options: &PlotOptions,
) -> Result<(), PlotError> {
    match area {
        DynArea::Bitmap(root) => figure(&root, iters, series, positive, options),
        DynArea::Svg(root) => figure(&root, iters, series, positive, options),
    }
}

/// y range of the log axis: the decades around the positive values.
pub(crate) fn log_y_range(positive: &[f64]) -> (f64, f64) {
    let lo = positive.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = positive.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (1e-3, 1.0);
    }
    let (lo, hi) = (
        10f64.powf(lo.log10().floor()),
        10f64.powf(hi.log10().ceil()),
    );
    if hi > lo {
        (lo, hi)
    } else {
        (lo / 10.0, hi * 10.0)
    }
}

/// Upper right, unless some line's last tenth reaches into the upper half of
/// the (log) axis: then lower right.
fn legend_position(series: &[(String, Vec<f64>)], y0: f64, y1: f64) -> SeriesLabelPosition {
    let middle = (y0.ln() + y1.ln()) / 2.0;
    let high = series.iter().any(|(_, values)| {
        let tail = &values[values.len() - values.len().div_ceil(10)..];
        tail.iter().any(|&v| v > 0.0 && v.ln() > middle)
    });
    if high {
        SeriesLabelPosition::LowerRight
    } else {
        SeriesLabelPosition::UpperRight
    }
}

/// Tick label on the log axis: `0.01`, `1`, `100`, or `1e-5` far from 1.
pub(crate) fn log_tick(y: f64) -> String {
    if y <= 0.0 || !y.is_finite() {
        return String::new();
    }
    let exp = y.log10().round();
    if (y / 10f64.powf(exp) - 1.0).abs() > 1e-9 {
        // Only the decades are labelled.
        return String::new();
    }
    if (-3.0..=4.0).contains(&exp) {
        format!("{:.*}", (-exp).max(0.0) as usize, 10f64.powf(exp))
    } else {
        format!("1e{exp}")
    }
}

fn figure<DB>(
    root: &DrawingArea<DB, Shift>,
    iters: &[usize],
    series: &[(String, Vec<f64>)],
    positive: &[f64],
    options: &PlotOptions,
) -> Result<(), PlotError>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let first = iters.iter().copied().min().unwrap_or(0) as f64;
    let last = iters.iter().copied().max().unwrap_or(0) as f64;
    let (x0, x1) = if last > first {
        let pad = 0.05 * (last - first);
        (first - pad, last + pad)
    } else {
        let (a, b) = x_range(0.0);
        (first + a, first + b)
    };
    let (lo, hi) = log_y_range(positive);
    // A hair outside the decades, so their ticks are drawn at both ends.
    let (y0, y1) = (lo * 0.999, hi * 1.001);
    let scale = figure_scale(options);
    let mut chart = chart_builder(root, scale, options)
        .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
        .map_err(drawing)?;
    let axes = Axes {
        x_labels: 8,
        y_labels: 10,
        y_format: &|y| log_tick(*y),
        x_desc: "iterations",
        y_desc: "gradient L2 norm",
    };
    draw_axes(&mut chart, &axes, scale)?;

    let line = (2.0 * scale).round().max(1.0) as u32;
    let marker = (4.0 * scale).round().max(2.0) as i32;
    for (k, (name, values)) in series.iter().enumerate() {
        let color = SERIES_COLORS[k % SERIES_COLORS.len()];
        let style = color.stroke_width(line);
        let points: Vec<(f64, f64)> = iters
            .iter()
            .zip(values)
            .map(|(&i, &v)| (i as f64, v))
            .collect();
        // Zeros break the line: each run of positive values is drawn on its own.
        let runs: Vec<Vec<(f64, f64)>> = points
            .split(|p| p.1 <= 0.0)
            .filter(|run| !run.is_empty())
            .map(<[_]>::to_vec)
            .collect();
        chart
            .draw_series(runs.into_iter().map(|run| PathElement::new(run, style)))
            .map_err(drawing)?
            .label(name.as_str())
            .legend(move |(x, y)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (30, 0)], style)
                    + Circle::new((15, 0), marker, color.filled())
            });
        chart
            .draw_series(
                points
                    .iter()
                    .filter(|p| p.1 > 0.0)
                    .map(|&p| Circle::new(p, marker, color.filled())),
            )
            .map_err(drawing)?;
    }
    draw_legend(&mut chart, legend_position(series, y0, y1), scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ranges_cover_whole_decades() {
        assert_eq!(log_y_range(&[0.02, 0.5]), (0.01, 1.0));
        let (lo, hi) = log_y_range(&[0.1]);
        assert!(lo < 0.1 && hi > 0.1);
        assert_eq!(log_y_range(&[]), (1e-3, 1.0));
    }

    #[test]
    fn the_legend_leaves_a_high_right_end_alone() {
        let s = |v: Vec<f64>| vec![("W1".to_string(), v)];
        let (lo, hi) = (1e-3, 1.0);
        assert_eq!(
            legend_position(&s(vec![0.01, 0.5]), lo, hi),
            SeriesLabelPosition::LowerRight
        );
        assert_eq!(
            legend_position(&s(vec![0.5, 0.01]), lo, hi),
            SeriesLabelPosition::UpperRight
        );
    }

    #[test]
    fn only_decades_are_labelled() {
        assert_eq!(log_tick(0.01), "0.01");
        assert_eq!(log_tick(1.0), "1");
        assert_eq!(log_tick(100.0), "100");
        assert_eq!(log_tick(1e-5), "1e-5");
        assert_eq!(log_tick(0.02), "");
        assert_eq!(log_tick(0.0), "");
    }
}
