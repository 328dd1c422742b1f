//! End to end: `cargo xtask graph apple|apple-orange|net` writes SVG and PNG
//! pictures whose texts are the numbers the layers computed.

use std::path::{Path, PathBuf};

use bp_tests::{assert_success, real_data, stderr, stdout, xtask};

/// Scratch space of these tests (cargo's per-target temporary folder).
fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("graph")
}

/// MNIST, in the tests' cache.
fn data_args() -> Vec<String> {
    vec![
        "--data-dir".into(),
        real_data("mnist").display().to_string(),
    ]
}

fn fresh_dir(name: &str) -> tempfile::TempDir {
    std::fs::create_dir_all(scratch()).expect("create the scratch directory");
    tempfile::Builder::new()
        .prefix(&format!("{name}-"))
        .tempdir_in(scratch())
        .expect("create a scratch directory")
}

/// `cargo xtask graph <args...> --out <out>`, asserted to succeed.
fn graph(args: &[&str], out: &Path) -> String {
    let mut all: Vec<String> = vec!["graph".into()];
    all.extend(args.iter().map(|s| s.to_string()));
    all.extend(["--out".into(), out.display().to_string()]);
    let o = xtask(&all);
    assert_success(&format!("cargo xtask {}", all.join(" ")), &o);
    stdout(&o)
}

/// One `<text>` element of an SVG.
#[derive(Debug, Clone)]
struct SvgText {
    x: f64,
    y: f64,
    fill: String,
    text: String,
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_string())
}

fn svg_texts(path: &Path) -> Vec<SvgText> {
    let svg = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(svg.starts_with("<svg"), "{} is not an SVG", path.display());
    let mut out = Vec::new();
    let mut rest = svg.as_str();
    while let Some(open) = rest.find("<text ") {
        let after = &rest[open..];
        let (Some(tag_end), Some(close)) = (after.find('>'), after.find("</text>")) else {
            break;
        };
        let tag = &after[..tag_end];
        out.push(SvgText {
            x: attr(tag, "x")
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN),
            y: attr(tag, "y")
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN),
            fill: attr(tag, "fill").unwrap_or_default(),
            text: after[tag_end + 1..close]
                .trim()
                .replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">"),
        });
        rest = &after[close..];
    }
    out
}

/// The gradient colour, as the SVG writes it.
const RED: &str = "#D62728";

/// `(value, gradient)` of every edge: each red text with the black text just
/// above it at the same x (the edge's middle), sorted.
fn edge_pairs(texts: &[SvgText]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = texts
        .iter()
        .filter(|g| g.fill == RED)
        .map(|g| {
            let value = texts
                .iter()
                .filter(|v| v.fill == "#000000" && v.x == g.x && v.y < g.y && g.y - v.y < 40.0)
                .min_by(|a, b| (g.y - a.y).total_cmp(&(g.y - b.y)))
                .unwrap_or_else(|| panic!("no value above the gradient {g:?}"));
            (value.text.clone(), g.text.clone())
        })
        .collect();
    pairs.sort();
    pairs
}

fn sorted(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

fn assert_png(path: &Path) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = png::Decoder::new(file).read_info().expect("a PNG");
    let info = reader.info();
    assert!(
        info.width > 300 && info.height > 150,
        "{}: {}x{}",
        path.display(),
        info.width,
        info.height
    );
}

#[test]
fn apple_picture_has_every_number_of_figure_5_16() {
    let out = fresh_dir("apple");
    let printed = graph(&["apple"], out.path());
    for name in ["apple.svg", "apple.png"] {
        let path = out.path().join(name);
        assert!(printed.contains(&path.display().to_string()), "{printed}");
    }
    assert_png(&out.path().join("apple.png"));
    let texts = svg_texts(&out.path().join("apple.svg"));
    // Forward 100, 2, 200, 1.1, 220 above; gradients 2.2, 110, 1.1, 200 and dprice 1 below.
    assert_eq!(
        edge_pairs(&texts),
        sorted(&[
            ("100", "2.2"),
            ("2", "110"),
            ("200", "1.1"),
            ("1.1", "200"),
            ("220", "1"),
        ])
    );
    for label in ["apple", "apple num", "tax", "price"] {
        assert!(texts.iter().any(|t| t.text == label), "{label} missing");
    }
    assert_eq!(texts.iter().filter(|t| t.text == "×").count(), 2);
}

#[test]
fn apple_orange_picture_has_every_number_of_figure_5_17() {
    let out = fresh_dir("apple-orange");
    graph(&["apple-orange"], out.path());
    assert_png(&out.path().join("apple-orange.png"));
    let texts = svg_texts(&out.path().join("apple-orange.svg"));
    assert_eq!(
        edge_pairs(&texts),
        sorted(&[
            ("100", "2.2"),
            ("2", "110"),
            ("150", "3.3"),
            ("3", "165"),
            ("200", "1.1"),
            ("450", "1.1"),
            ("650", "1.1"),
            ("1.1", "650"),
            ("715", "1"),
        ])
    );
    for label in ["apple", "apple num", "orange", "orange num", "tax", "price"] {
        assert!(texts.iter().any(|t| t.text == label), "{label} missing");
    }
    assert_eq!(texts.iter().filter(|t| t.text == "×").count(), 3);
    assert_eq!(texts.iter().filter(|t| t.text == "+").count(), 1);
}

#[test]
fn a_changed_input_changes_the_drawn_values() {
    let out = fresh_dir("apple-120");
    graph(&["apple", "--apple", "120"], out.path());
    let texts = svg_texts(&out.path().join("apple.svg"));
    // 120 × 2 = 240, × 1.1 = 264; dapple_num = 120 × 1.1 = 132, dtax = 240.
    assert_eq!(
        edge_pairs(&texts),
        sorted(&[
            ("120", "2.2"),
            ("2", "132"),
            ("240", "1.1"),
            ("1.1", "240"),
            ("264", "1"),
        ])
    );
    assert!(!texts.iter().any(|t| t.text == "220" || t.text == "110"));
}

/// The number after ` = ` in a text like `‖a1‖ = 6.136`.
fn number(text: &str) -> f64 {
    let (_, n) = text
        .rsplit_once(" = ")
        .unwrap_or_else(|| panic!("no number in {text:?}"));
    n.parse()
        .unwrap_or_else(|e| panic!("{text:?}: {n:?} is not a number: {e}"))
}

/// Every edge of the net picture: `(note, value, gradient)` texts by edge name.
fn net_edges(texts: &[SvgText]) -> Vec<(String, String, String)> {
    edge_pairs(texts)
        .into_iter()
        .map(|(value, gradient)| {
            let v = texts.iter().find(|t| t.text == value).expect("value");
            let note = texts
                .iter()
                .filter(|t| t.fill != "#000000" && t.fill != RED && t.x == v.x && t.y < v.y)
                .min_by(|a, b| (v.y - a.y).total_cmp(&(v.y - b.y)))
                .map(|t| t.text.clone())
                .unwrap_or_default();
            (note, value, gradient)
        })
        .collect()
}

fn check_net_picture(out: &Path) -> Vec<(String, String, String)> {
    assert_png(&out.join("net.png"));
    let texts = svg_texts(&out.join("net.svg"));
    for layer in [
        "Affine1",
        "Relu1",
        "Affine2",
        "SoftmaxWithLoss",
        "loss",
        "x",
        "W1",
    ] {
        assert!(texts.iter().any(|t| t.text == layer), "{layer} missing");
    }
    let edges = net_edges(&texts);
    let shape_of = |name: &str| -> String {
        edges
            .iter()
            .find(|(_, v, _)| v.starts_with(&format!("‖{name}‖ = ")))
            .map(|(n, _, _)| n.clone())
            .unwrap_or_else(|| panic!("no edge {name} in {edges:?}"))
    };
    for (name, shape) in [
        ("x", "100×784"),
        ("W1", "784×50"),
        ("b1", "50"),
        ("a1", "100×50"),
        ("z1", "100×50"),
        ("W2", "50×10"),
        ("b2", "10"),
        ("a2", "100×10"),
    ] {
        assert_eq!(shape_of(name), shape, "{name}");
    }
    assert_eq!(edges.len(), 9, "{edges:?}");
    for (_, value, gradient) in &edges {
        let (v, g) = (number(value), number(gradient));
        assert!(v.is_finite() && v >= 0.0, "{value}");
        assert!(g.is_finite() && g > 0.0, "{gradient}");
        assert!(gradient.starts_with("‖∂L/∂") || gradient == "∂L/∂L = 1");
    }
    edges
}

fn value_of(edges: &[(String, String, String)], prefix: &str) -> f64 {
    let (_, v, _) = edges
        .iter()
        .find(|(_, v, _)| v.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in {edges:?}"));
    number(v)
}

#[test]
fn net_picture_of_a_fresh_net_on_real_mnist() {
    let out = fresh_dir("net");
    let mut args = vec!["net"];
    let data = data_args();
    args.extend(data.iter().map(String::as_str));
    let printed = graph(&args, out.path());
    assert!(
        printed.contains("net.svg") && printed.contains("net.png"),
        "{printed}"
    );
    let edges = check_net_picture(out.path());
    // Fresh weights of std 0.01: about ln 10, and the biases are still zero.
    let loss = value_of(&edges, "L = ");
    assert!((loss - 10f64.ln()).abs() < 0.05, "loss {loss}");
    assert_eq!(value_of(&edges, "‖b1‖ = "), 0.0);
    // 100 real images: far from zero (MNIST pixels in [0, 1], about 100 lit per image).
    let x = value_of(&edges, "‖x‖ = ");
    assert!(x > 50.0 && x < 200.0, "‖x‖ = {x}");
}

#[test]
fn net_picture_of_a_trained_model() {
    let run = fresh_dir("trained");
    let mut train: Vec<String> = ["train", "--quiet", "--iters", "300", "--eval-every", "0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    train.extend(data_args());
    train.extend(["--out".into(), run.path().display().to_string()]);
    assert_success("a short training run", &xtask(&train));
    let model = run.path().join("model.safetensors");

    let out = fresh_dir("net-trained");
    let model_arg = model.display().to_string();
    let mut args = vec!["net", "--model", model_arg.as_str()];
    let data = data_args();
    args.extend(data.iter().map(String::as_str));
    graph(&args, out.path());
    let edges = check_net_picture(out.path());
    let loss = value_of(&edges, "L = ");
    assert!(loss < 1.0, "a trained net's loss {loss}");
    assert!(value_of(&edges, "‖b1‖ = ") > 0.0);
    let texts = svg_texts(&out.path().join("net.svg"));
    assert!(
        texts.iter().any(|t| t.text.contains("trained model")),
        "the title names the model"
    );
}

#[test]
fn an_unwritable_output_directory_exits_1_with_a_message() {
    let dir = fresh_dir("unwritable");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let bad = file.join("out");
    let bad_arg = bad.display().to_string();
    let data = data_args();
    let mut net = vec!["graph", "net", "--out", bad_arg.as_str()];
    net.extend(data.iter().map(String::as_str));
    for args in [
        vec!["graph", "apple", "--out", bad_arg.as_str()],
        vec!["graph", "apple-orange", "--out", bad_arg.as_str()],
        net,
    ] {
        let o = xtask(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("cannot create the output directory"), "{err}");
        assert!(err.contains(&bad_arg), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // A model that is not there fails cleanly too.
    let missing = dir.path().join("missing.safetensors");
    let out = dir.path().join("out").display().to_string();
    let o = xtask(&[
        "graph",
        "net",
        "--model",
        missing.to_str().unwrap(),
        "--out",
        out.as_str(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing.safetensors"), "{}", stderr(&o));
}
