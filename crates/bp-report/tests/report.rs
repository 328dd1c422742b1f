//! The report builder through its public API: every section, nothing fetched,
//! the embedded model, the grids, the notes for missing parts, and errors.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bp_report::{
    render_html, write_report, Activation, Dense, GradNormHistory, Mistake, Net, ReportError,
    RunReport, MISTAKES_SHOWN, MODEL_SCRIPT_ID, SECTION_IDS, WEIGHT_UNITS_SHOWN,
};

/// A deterministic pseudo-random stream in [-1, 1) (no rand dependency needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

fn dense(inputs: usize, outputs: usize, rng: &mut Lcg) -> Dense {
    Dense {
        inputs,
        outputs,
        weights: (0..inputs * outputs).map(|_| rng.next() * 0.1).collect(),
        bias: (0..outputs).map(|_| rng.next() * 0.01).collect(),
    }
}

/// An MNIST-shaped report: 28x28 images, a 784-60-10 net, 70 mistakes.
fn sample() -> RunReport {
    let mut rng = Lcg(7);
    let classes: Vec<String> = (0..10).map(|k| k.to_string()).collect();
    let mut confusion = vec![vec![0u64; 10]; 10];
    for (a, row) in confusion.iter_mut().enumerate() {
        row[a] = 95;
        row[(a + 1) % 10] = 7;
    }
    let mistakes = (0..70)
        .map(|i| Mistake {
            index: i * 13,
            actual: i % 10,
            predicted: (i + 1) % 10,
            pixels: (0..784).map(|p| ((p * 7 + i) % 256) as u8).collect(),
        })
        .collect();
    let iters: Vec<usize> = (0..17).map(|e| e * 600).chain([9999]).collect();
    RunReport {
        title: "MNIST <run> & co".into(),
        headline: vec![("final test accuracy".into(), "0.9312".into())],
        config: vec![
            ("iterations".into(), "10000".into()),
            ("hidden".into(), "[60]".into()),
        ],
        timings: vec![("train".into(), 0.81), ("total".into(), 1.2)],
        train_acc: (0..17).map(|e| 0.1 + 0.05 * f64::from(e)).collect(),
        test_acc: (0..17).map(|e| 0.1 + 0.049 * f64::from(e)).collect(),
        eval_label: "epochs".into(),
        loss: (0..1000)
            .map(|i| 2.3 * (-f64::from(i) / 300.0).exp() + 0.1)
            .collect(),
        grad_norms: GradNormHistory {
            series: ["W1", "b1", "W2", "b2"]
                .iter()
                .map(|n| {
                    (
                        n.to_string(),
                        iters.iter().map(|&i| 1.0 / (1.0 + i as f64)).collect(),
                    )
                })
                .collect(),
            iters,
        },
        classes,
        confusion,
        mistakes,
        image_width: 28,
        image_height: 28,
        net: Net {
            activation: Activation::Relu,
            layers: vec![dense(784, 60, &mut rng), dense(60, 10, &mut rng)],
        },
    }
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The JSON text of the embedded model.
fn model_json(html: &str) -> serde_json::Value {
    let open = format!("<script type=\"application/json\" id=\"{MODEL_SCRIPT_ID}\">");
    let start = html.find(&open).expect("the model script") + open.len();
    let end = start + html[start..].find("</script>").expect("its end");
    serde_json::from_str(&html[start..end]).expect("the model is JSON")
}

fn decode_f32(text: &serde_json::Value) -> Vec<f32> {
    let bytes = STANDARD
        .decode(text.as_str().expect("base64 text"))
        .expect("base64");
    assert_eq!(bytes.len() % 4, 0);
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn every_section_is_present_in_order() {
    let html = render_html(&sample()).unwrap();
    let mut at = 0;
    for id in SECTION_IDS {
        let tag = format!("<section id=\"{id}\"");
        assert_eq!(count(&html, &tag), 1, "{id}");
        let pos = html.find(&tag).unwrap();
        assert!(pos > at, "{id} out of order");
        at = pos;
    }
    for id in [
        "accuracy-img",
        "loss-img",
        "grad-norms-img",
        "confusion-matrix",
        "mistakes-grid",
        "weights-grid",
        "pad-canvas",
        "pad-clear",
        "pad-bars",
        "pad-input",
        "pad-prediction",
    ] {
        assert_eq!(count(&html, &format!("id=\"{id}\"")), 1, "{id}");
    }
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("window.bpPad"));
    // The title is escaped, wherever it appears.
    assert!(html.contains("<title>MNIST &lt;run&gt; &amp; co</title>"));
    assert!(!html.contains("<run>"));
}

#[test]
fn nothing_is_fetched() {
    let html = render_html(&sample()).unwrap();
    assert!(!html.contains("http://"), "an http reference");
    assert!(!html.contains("https://"), "an https reference");
    assert!(!html.contains("<link"), "a linked resource");
    assert!(!html.contains("@import") && !html.contains("url("));
    assert!(!html.contains("<iframe") && !html.contains("fetch("));
    assert!(!html.contains("XMLHttpRequest") && !html.contains("import("));
    // Every src is inline data, and every script is inline.
    for (i, _) in html.match_indices("src=\"") {
        let rest = &html[i + 5..];
        assert!(
            rest.starts_with("data:image/png;base64,"),
            "{}",
            &rest[..40]
        );
    }
    assert!(!html.contains("<script src"));
    for (i, _) in html.match_indices("href=\"") {
        assert!(html[i + 6..].starts_with('#'), "an href outside the page");
    }
}

#[test]
fn the_embedded_weights_decode_to_the_nets_weights() {
    let report = sample();
    let html = render_html(&report).unwrap();
    let model = model_json(&html);
    assert_eq!(model["activation"], "relu");
    assert_eq!(model["image"], serde_json::json!([28, 28]));
    assert_eq!(model["classes"].as_array().unwrap().len(), 10);
    let layers = model["layers"].as_array().unwrap();
    assert_eq!(layers.len(), report.net.layers.len());
    for (json, layer) in layers.iter().zip(&report.net.layers) {
        assert_eq!(json["inputs"], layer.inputs);
        assert_eq!(json["outputs"], layer.outputs);
        // Bit for bit, as f32.
        let w = decode_f32(&json["weights"]);
        assert_eq!(w.len(), layer.weights.len());
        assert!(w
            .iter()
            .zip(&layer.weights)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        assert_eq!(decode_f32(&json["bias"]), layer.bias);
    }
    // Sigmoid is named as such.
    let mut sigmoid = report.clone();
    sigmoid.net.activation = Activation::Sigmoid;
    assert_eq!(
        model_json(&render_html(&sigmoid).unwrap())["activation"],
        "sigmoid"
    );
}

#[test]
fn grids_tables_and_bars_have_the_right_counts() {
    let report = sample();
    let html = render_html(&report).unwrap();
    assert_eq!(count(&html, "<figure class=\"mistake\""), MISTAKES_SHOWN);
    assert_eq!(count(&html, "<figure class=\"unit\""), WEIGHT_UNITS_SHOWN);
    assert_eq!(count(&html, "class=\"bar-row\""), 10);
    assert!(html.contains("The first 48 of the 70 test images"));
    assert!(html.contains("weights into each of the first 50 of 60 hidden units"));
    // Ten rows of ten counts; the diagonal's 95 and one confusion per row.
    assert_eq!(count(&html, ">95</td>"), 10);
    assert_eq!(count(&html, ">7</td>"), 10);
    assert!(html.contains("950 of 1020 test images correct (93.14%)"));
    assert!(html.contains("actual 3, predicted 4: 7 (6.9% of the row)"));
    // The first mistake's caption, and rows of the configuration and timings.
    assert!(html.contains("title=\"test image 0: 0, predicted 1\""));
    assert!(html.contains("<tr><th>iterations</th><td>10000</td></tr>"));
    assert!(html.contains("<tr><th>train</th><td>0.810 s</td></tr>"));
    // A net with fewer hidden units shows them all.
    let mut small = report.clone();
    let mut rng = Lcg(3);
    small.net.layers = vec![dense(784, 12, &mut rng), dense(12, 10, &mut rng)];
    let html = render_html(&small).unwrap();
    assert_eq!(count(&html, "<figure class=\"unit\""), 12);
    assert!(html.contains("weights into each of the 12 hidden units"));
}

#[test]
fn missing_parts_get_a_note_not_an_error() {
    let mut report = sample();
    report.train_acc.clear();
    report.test_acc.clear();
    report.grad_norms = GradNormHistory::default();
    report.mistakes.clear();
    for row in report.confusion.iter_mut() {
        row.iter_mut().for_each(|n| *n = 0);
    }
    let html = render_html(&report).unwrap();
    for id in SECTION_IDS {
        assert!(html.contains(&format!("<section id=\"{id}\"")), "{id}");
    }
    assert!(!html.contains("id=\"accuracy-img\""));
    assert!(!html.contains("id=\"grad-norms-img\""));
    assert!(html.contains("No evaluation before the final one"));
    assert!(html.contains("recorded no gradient norms"));
    assert!(html.contains("gets every test image right"));
    assert!(html.contains("0 of 0 test images correct"));
}

#[test]
fn inconsistent_data_are_errors_not_panics() {
    type Breaker = Box<dyn Fn(&mut RunReport)>;
    let cases: Vec<(&str, Breaker)> = vec![
        ("image size", Box::new(|r| r.image_width = 0)),
        (
            "the images have 756 pixels",
            Box::new(|r| r.image_width = 27),
        ),
        ("classes", Box::new(|r| r.classes.truncate(1))),
        ("no layer", Box::new(|r| r.net.layers.clear())),
        (
            "W1 has",
            Box::new(|r| {
                r.net.layers[0].weights.pop();
            }),
        ),
        ("b2 has", Box::new(|r| r.net.layers[1].bias.push(0.0))),
        ("layer 2 takes", Box::new(|r| r.net.layers[1].inputs = 59)),
        (
            "10 outputs but there are 9",
            Box::new(|r| {
                r.classes.pop();
            }),
        ),
        (
            "confusion matrix",
            Box::new(|r| {
                r.confusion[3].pop();
            }),
        ),
        ("class outside", Box::new(|r| r.mistakes[2].predicted = 10)),
        (
            "pixels, not 784",
            Box::new(|r| r.mistakes[5].pixels.push(0)),
        ),
        (
            "gradient norms of b1",
            Box::new(|r| {
                r.grad_norms.series[1].1.pop();
            }),
        ),
    ];
    for (want, break_it) in cases {
        let mut r = sample();
        break_it(&mut r);
        match render_html(&r) {
            Err(ReportError::Invalid(msg)) => assert!(msg.contains(want), "{want}: {msg}"),
            other => panic!("{want}: {:?}", other.map(|s| s.len())),
        }
    }
    // Figures' own checks surface as plot errors naming the figure.
    let mut r = sample();
    r.test_acc.pop();
    let err = render_html(&r).unwrap_err();
    assert!(
        matches!(
            err,
            ReportError::Plot {
                figure: "accuracy",
                ..
            }
        ),
        "{err}"
    );
    let mut r = sample();
    r.loss[3] = f64::NAN;
    let err = render_html(&r).unwrap_err();
    assert!(err.to_string().contains("loss"), "{err}");
}

#[test]
fn write_report_is_atomic_and_creates_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run/report.html");
    write_report(&path, &sample()).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, render_html(&sample()).unwrap());
    let names: Vec<_> = std::fs::read_dir(dir.path().join("run"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["report.html"]);
    // Nothing is written for bad data, and an unwritable place is an I/O error.
    let mut bad = sample();
    bad.image_height = 3;
    assert!(write_report(&dir.path().join("bad.html"), &bad).is_err());
    assert!(!dir.path().join("bad.html").exists());
    let blocked = dir.path().join("file");
    std::fs::write(&blocked, "x").unwrap();
    let err = write_report(&blocked.join("report.html"), &sample()).unwrap_err();
    assert!(matches!(err, ReportError::Io { .. }), "{err}");
}
