//! The page itself: HTML with the figures, tables and pictures inline, the
//! style sheet, the model as JSON and the drawing pad's script.

use std::fmt::Write as _;

use bp_plot::{Format, PlotOptions};
use serde::Serialize;

use crate::images::{data_uri, encode_grey_png, f32_base64, weight_picture};
use crate::{
    Activation, ReportError, RunReport, MISTAKES_SHOWN, MODEL_SCRIPT_ID, WEIGHT_UNITS_SHOWN,
};

/// The style sheet (system fonts only: nothing to fetch).
const CSS: &str = include_str!("report.css");
/// The drawing pad: preparation, forward pass, bars, `window.bpPad`.
const PAD_JS: &str = include_str!("pad.js");

/// Size the figures are drawn at (they are shown scaled to their column).
const FIGURE_SIZE: (u32, u32) = (800, 560);

/// The model as the page's script reads it.
#[derive(Serialize)]
struct ModelJson<'a> {
    activation: Activation,
    image: [usize; 2],
    classes: &'a [String],
    layers: Vec<LayerJson>,
}

#[derive(Serialize)]
struct LayerJson {
    inputs: usize,
    outputs: usize,
    weights: String,
    bias: String,
}

/// Renders the report as one self-contained HTML page (UTF-8).
///
/// The model the drawing pad runs is the JSON text of the element
/// `<script type="application/json" id="bp-model">` ([`MODEL_SCRIPT_ID`]):
/// `{"activation": "relu" | "sigmoid", "image": [width, height], "classes":
/// [names], "layers": [{"inputs", "outputs", "weights", "bias"}]}`, where
/// `weights` (row-major `inputs x outputs`) and `bias` are base64 of
/// little-endian `f32`.
pub fn render_html(report: &RunReport) -> Result<String, ReportError> {
    report.validate()?;
    let mut page = String::with_capacity(1 << 20);
    let title = esc(&report.title);
    // `write!` to a String cannot fail.
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n"
    );
    let _ = write!(page, "<header><h1>{title}</h1><nav>");
    for (id, label) in [
        ("config", "configuration"),
        ("accuracy", "accuracy"),
        ("loss", "loss"),
        ("grad-norms", "gradients"),
        ("confusion", "confusion"),
        ("mistakes", "mistakes"),
        ("weights", "weights"),
        ("pad", "drawing pad"),
    ] {
        let _ = write!(page, "<a href=\"#{id}\">{label}</a>");
    }
    page.push_str("</nav></header>\n<main>\n");
    summary(&mut page, report);
    config(&mut page, report);
    timings(&mut page, report);
    figures(&mut page, report)?;
    confusion(&mut page, report);
    mistakes(&mut page, report)?;
    weights(&mut page, report)?;
    pad(&mut page, report);
    page.push_str("</main>\n");
    model_script(&mut page, report)?;
    let _ = write!(page, "<script>\n{PAD_JS}</script>\n</body>\n</html>\n");
    Ok(page)
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn section_start(page: &mut String, id: &str, class: &str, heading: &str) {
    let _ = write!(
        page,
        "<section id=\"{id}\" class=\"{class}\">\n<h2>{}</h2>\n",
        esc(heading)
    );
}

fn summary(page: &mut String, r: &RunReport) {
    section_start(page, "summary", "half", "Summary");
    page.push_str("<div class=\"tiles\">");
    for (label, value) in &r.headline {
        let _ = write!(
            page,
            "<div class=\"tile\"><div class=\"value\">{}</div><div class=\"label\">{}</div></div>",
            esc(value),
            esc(label)
        );
    }
    page.push_str("</div>\n</section>\n");
}

fn key_value_table(page: &mut String, rows: impl Iterator<Item = (String, String)>) {
    page.push_str("<table class=\"kv\">\n");
    for (k, v) in rows {
        let _ = writeln!(page, "<tr><th>{}</th><td>{}</td></tr>", esc(&k), esc(&v));
    }
    page.push_str("</table>\n");
}

fn config(page: &mut String, r: &RunReport) {
    section_start(page, "config", "full", "Configuration");
    // Two tables side by side: the section spans the page.
    let half = r.config.len().div_ceil(2);
    page.push_str("<div class=\"kv-cols\">\n");
    for part in [&r.config[..half], &r.config[half..]] {
        key_value_table(page, part.iter().cloned());
    }
    page.push_str("</div>\n</section>\n");
}

fn timings(page: &mut String, r: &RunReport) {
    section_start(page, "timings", "half", "Timings");
    key_value_table(
        page,
        r.timings
            .iter()
            .map(|(k, s)| (k.clone(), format!("{s:.3} s"))),
    );
    page.push_str("</section>\n");
}

fn figure(page: &mut String, id: &str, alt: &str, png: &[u8], caption: &str) {
    let _ = writeln!(
        page,
        "<figure><img id=\"{id}-img\" alt=\"{}\" src=\"{}\"><figcaption>{}</figcaption></figure>",
        esc(alt),
        data_uri("image/png", png),
        esc(caption)
    );
}

fn note(page: &mut String, text: &str) {
    let _ = writeln!(page, "<p class=\"note\">{}</p>", esc(text));
}

fn figures(page: &mut String, r: &RunReport) -> Result<(), ReportError> {
    let options = PlotOptions {
        size: FIGURE_SIZE,
        title: None,
        x_label: r.eval_label.clone(),
    };
    let plot = |figure: &'static str| move |source| ReportError::Plot { figure, source };

    section_start(page, "accuracy", "half", "Accuracy");
    if r.train_acc.is_empty() {
        note(page, "No evaluation before the final one: nothing to plot.");
    } else {
        let png = bp_plot::render_accuracy(Format::Png, &r.train_acc, &r.test_acc, &options)
            .map_err(plot("accuracy"))?;
        figure(
            page,
            "accuracy",
            "train and test accuracy at each evaluation",
            &png,
            "Accuracy on the whole training and test sets at each evaluation.",
        );
    }
    page.push_str("</section>\n");

    section_start(page, "loss", "half", "Loss");
    if r.loss.is_empty() {
        note(page, "No iteration: nothing to plot.");
    } else {
        let png = bp_plot::render_loss(Format::Png, &r.loss, &options).map_err(plot("loss"))?;
        figure(
            page,
            "loss",
            "loss of each minibatch",
            &png,
            "Loss of each iteration's minibatch, with a moving average.",
        );
    }
    page.push_str("</section>\n");

    section_start(page, "grad-norms", "half", "Gradient norms");
    let g = &r.grad_norms;
    if g.iters.is_empty() || g.series.is_empty() {
        note(
            page,
            "This run recorded no gradient norms (its metrics.json predates them).",
        );
    } else {
        let png = bp_plot::render_grad_norms(Format::Png, &g.iters, &g.series, &options)
            .map_err(plot("gradient norms"))?;
        figure(
            page,
            "grad-norms",
            "L2 norm of each parameter's gradient over training",
            &png,
            "L2 norm of each parameter's gradient at each evaluation: the \
             gradients of the minibatch step just before it (log scale).",
        );
    }
    page.push_str("</section>\n");
    Ok(())
}

/// Background of a confusion cell: white to dark blue (ColorBrewer's Blues
/// ends) by the square root of the share of its row (so small confusions
/// still show).
fn heat(share: f64) -> ([u8; 3], bool) {
    let t = share.clamp(0.0, 1.0).sqrt();
    let (from, to) = ([247.0, 251.0, 255.0], [8.0, 48.0, 107.0]);
    let rgb = std::array::from_fn(|c| (from[c] + (to[c] - from[c]) * t).round() as u8);
    (rgb, t > 0.55)
}

fn confusion(page: &mut String, r: &RunReport) {
    section_start(page, "confusion", "half", "Confusion matrix (test set)");
    let total: u64 = r.confusion.iter().flatten().sum();
    let correct: u64 = (0..r.classes.len()).map(|k| r.confusion[k][k]).sum();
    page.push_str(
        "<table id=\"confusion-matrix\" class=\"heat\">\n<tr><th class=\"corner\">actual \\ predicted</th>",
    );
    for (k, _) in r.classes.iter().enumerate() {
        let _ = write!(page, "<th>{k}</th>");
    }
    page.push_str("</tr>\n");
    for (a, row) in r.confusion.iter().enumerate() {
        let row_total: u64 = row.iter().sum();
        let _ = write!(page, "<tr><th>{a} {}</th>", class_suffix(r, a));
        for (p, &n) in row.iter().enumerate() {
            let share = if row_total == 0 {
                0.0
            } else {
                n as f64 / row_total as f64
            };
            let ([cr, cg, cb], dark) = heat(share);
            let _ = write!(
                page,
                "<td style=\"background:rgb({cr},{cg},{cb})\"{} title=\"actual {}, predicted {}: {n} ({:.1}% of the row)\">{n}</td>",
                if dark { " class=\"dark\"" } else { "" },
                esc(&r.classes[a]),
                esc(&r.classes[p]),
                100.0 * share
            );
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n");
    let acc = if total == 0 {
        0.0
    } else {
        correct as f64 / total as f64
    };
    note(
        page,
        &format!(
            "{correct} of {total} test images correct ({:.2}%). Rows: the true class; \
             columns: the predicted one; colour: the share of the row.",
            100.0 * acc
        ),
    );
    page.push_str("</section>\n");
}

/// The class's name after its index, where the name is not the index itself.
fn class_suffix(r: &RunReport, k: usize) -> String {
    let name = &r.classes[k];
    if *name == k.to_string() {
        String::new()
    } else {
        format!("<span class=\"cname\">{}</span>", esc(name))
    }
}

fn mistakes(page: &mut String, r: &RunReport) -> Result<(), ReportError> {
    section_start(page, "mistakes", "full", "Test images the model gets wrong");
    let total: u64 = r.confusion.iter().flatten().sum();
    let correct: u64 = (0..r.classes.len()).map(|k| r.confusion[k][k]).sum();
    let shown = r.mistakes.len().min(MISTAKES_SHOWN);
    if shown == 0 {
        note(page, "The model gets every test image right.");
    } else {
        note(
            page,
            &format!(
                "The first {shown} of the {} test images the model gets wrong: \
                 true label, then the prediction in red.",
                total - correct
            ),
        );
    }
    page.push_str("<div class=\"grid digits\" id=\"mistakes-grid\">\n");
    for m in &r.mistakes[..shown] {
        let png = encode_grey_png(r.image_width, r.image_height, &m.pixels)?;
        let (actual, predicted) = (esc(&r.classes[m.actual]), esc(&r.classes[m.predicted]));
        let _ = writeln!(
            page,
            "<figure class=\"mistake\" title=\"test image {}: {actual}, predicted {predicted}\">\
             <img alt=\"test image {}\" src=\"{}\"><figcaption><span class=\"true\">{actual}</span> \
             <span class=\"arrow\">&rarr;</span> <span class=\"pred\">{predicted}</span></figcaption></figure>",
            m.index,
            m.index,
            data_uri("image/png", &png)
        );
    }
    page.push_str("</div>\n</section>\n");
    Ok(())
}

fn weights(page: &mut String, r: &RunReport) -> Result<(), ReportError> {
    section_start(page, "weights", "full", "First-layer weights");
    let first = &r.net.layers[0];
    let shown = first.outputs.min(WEIGHT_UNITS_SHOWN);
    let which = if shown == first.outputs {
        format!("each of the {shown} hidden units")
    } else {
        format!(
            "each of the first {shown} of {} hidden units",
            first.outputs
        )
    };
    note(
        page,
        &format!(
            "The {} weights into {which}, as a {}x{} picture: red positive, blue \
             negative, white near zero; each picture is scaled by its own largest \
             weight (shown below it).",
            first.inputs, r.image_width, r.image_height
        ),
    );
    page.push_str("<div class=\"grid units\" id=\"weights-grid\">\n");
    for unit in 0..shown {
        let (png, max) = weight_picture(
            &first.weights,
            first.outputs,
            unit,
            r.image_width,
            r.image_height,
        )?;
        let _ = writeln!(
            page,
            "<figure class=\"unit\"><img alt=\"weights of hidden unit {unit}\" src=\"{}\">\
             <figcaption>#{unit} <span class=\"max\">{max:.2}</span></figcaption></figure>",
            data_uri("image/png", &png)
        );
    }
    page.push_str("</div>\n</section>\n");
    Ok(())
}

fn pad(page: &mut String, r: &RunReport) {
    section_start(page, "pad", "full", "Draw a digit");
    note(
        page,
        "Draw with the mouse, a pen or a finger. The page runs the trained net \
         on your drawing, prepared as cargo xtask predict prepares an image \
         (cropped to the ink, scaled to 20 pixels, centred by its centre of \
         mass in 28x28), and shows the probabilities as you draw.",
    );
    page.push_str(
        "<div class=\"pad-row\">\n<div class=\"pad-draw\">\
         <canvas id=\"pad-canvas\" width=\"280\" height=\"280\" aria-label=\"drawing pad\"></canvas>\
         <div class=\"pad-buttons\"><button type=\"button\" id=\"pad-clear\">Clear</button></div></div>\n\
         <div class=\"pad-input\"><canvas id=\"pad-input\" width=\"28\" height=\"28\" \
         aria-label=\"what the net sees\"></canvas><p>what the net sees</p>\
         <p id=\"pad-prediction\" class=\"prediction\">&nbsp;</p></div>\n\
         <div id=\"pad-bars\" class=\"bars\">\n",
    );
    for (k, name) in r.classes.iter().enumerate() {
        let _ = writeln!(
            page,
            "<div class=\"bar-row\" id=\"pad-bar-{k}\"><span class=\"bar-label\">{}</span>\
             <span class=\"bar\"><span class=\"fill\"></span></span><span class=\"pct\">-</span></div>",
            esc(name)
        );
    }
    page.push_str("</div>\n</div>\n</section>\n");
}

fn model_script(page: &mut String, r: &RunReport) -> Result<(), ReportError> {
    let model = ModelJson {
        activation: r.net.activation,
        image: [r.image_width, r.image_height],
        classes: &r.classes,
        layers: r
            .net
            .layers
            .iter()
            .map(|l| LayerJson {
                inputs: l.inputs,
                outputs: l.outputs,
                weights: f32_base64(&l.weights),
                bias: f32_base64(&l.bias),
            })
            .collect(),
    };
    let json = serde_json::to_string(&model)
        .map_err(|e| ReportError::Invalid(format!("cannot write the model as JSON: {e}")))?;
    // No `</script>` (nor `<!--`) can end the element early.
    let json = json.replace('<', "\\u003c");
    let _ = writeln!(
        page,
        "<script type=\"application/json\" id=\"{MODEL_SCRIPT_ID}\">{json}</script>"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(esc("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        assert_eq!(esc("T-shirt/top"), "T-shirt/top");
    }

    #[test]
    fn heat_goes_from_white_to_dark_blue() {
        assert_eq!(heat(0.0), ([247, 251, 255], false));
        assert_eq!(heat(1.0), ([8, 48, 107], true));
        assert!(!heat(0.01).1);
    }
}
