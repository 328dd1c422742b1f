//! The run report end to end: `cargo xtask train` writes report.html, `cargo
//! xtask report --run DIR` rewrites it, its errors; and the page in a real
//! browser: headless Chromium (Debian's /usr/bin/chromium) over the DevTools
//! protocol loads it from disk, with no console error, every section, every
//! image decoded, and a drawing pad that agrees with the Rust side.
//!
//! The browser tests fail, never skip, when Chromium cannot run.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bp_tests::{assert_success, real_data, stderr, stdout, xtask};
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::Input;
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::Value;

/// The page's sections, by element id (bp_report::SECTION_IDS).
const SECTIONS: [&str; 10] = [
    "summary",
    "config",
    "timings",
    "accuracy",
    "loss",
    "grad-norms",
    "confusion",
    "mistakes",
    "weights",
    "pad",
];

/// Where Debian's package puts the browser (`.ci/run` installs it).
const CHROMIUM: &str = "/usr/bin/chromium";

/// Scratch space of these tests (cargo's per-target temporary folder).
fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("report")
}

fn fresh_dir(name: &str) -> tempfile::TempDir {
    std::fs::create_dir_all(scratch()).expect("create the scratch directory");
    tempfile::Builder::new()
        .prefix(&format!("{name}-"))
        .tempdir_in(scratch())
        .expect("create a scratch directory")
}

fn data_dir() -> String {
    real_data("mnist").display().to_string()
}

/// One short MNIST run (600 iterations), shared by the tests that only read it.
fn short_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let out = scratch().join("short-mnist");
        let _ = std::fs::remove_dir_all(&out);
        let o = xtask(&[
            "train",
            "--quiet",
            "--iters",
            "600",
            "--data-dir",
            &data_dir(),
            "--out",
            out.to_str().expect("a UTF-8 path"),
        ]);
        assert_success("the 600-iteration MNIST run", &o);
        let report = out.join("report.html");
        assert!(
            stdout(&o).contains(&report.display().to_string()),
            "the report's path is printed:\n{}",
            stdout(&o)
        );
        out
    })
}

/// A copy of the short run's files in a fresh directory (to rewrite or break).
fn copy_of_run(name: &str) -> tempfile::TempDir {
    let dir = fresh_dir(name);
    for entry in std::fs::read_dir(short_run()).expect("read the run") {
        let entry = entry.expect("a directory entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy a file");
    }
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The embedded model: the JSON of `<script type="application/json" id="bp-model">`.
fn model_json(html: &str) -> Value {
    let open = "<script type=\"application/json\" id=\"bp-model\">";
    let start = html.find(open).expect("the model script") + open.len();
    let end = start + html[start..].find("</script>").expect("its end");
    serde_json::from_str(&html[start..end]).expect("the model is JSON")
}

fn decode_f32(text: &Value) -> Vec<f32> {
    let bytes = STANDARD
        .decode(text.as_str().expect("base64 text"))
        .expect("base64");
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn train_writes_a_self_contained_report_with_the_models_weights() {
    let out = short_run();
    let html = read(&out.join("report.html"));
    for id in SECTIONS {
        assert!(html.contains(&format!("<section id=\"{id}\"")), "{id}");
    }
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("<link") && !html.contains("<script src"));
    // The metrics the report was made from now hold gradient norms.
    let metrics: Value = serde_json::from_str(&read(&out.join("metrics.json"))).unwrap();
    let norms = metrics["grad_norms"].as_array().expect("grad_norms");
    let iters: Vec<u64> = norms.iter().map(|g| g["iter"].as_u64().unwrap()).collect();
    assert_eq!(iters, [0, 599], "the evaluation at 0 and the final net's");
    for g in norms {
        let names: Vec<&str> = g["norms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[0].as_str().unwrap())
            .collect();
        assert_eq!(names, ["W1", "b1", "W2", "b2"]);
    }
    assert!(html.contains("id=\"grad-norms-img\""));
    // The embedded weights are the checkpoint's, bit for bit.
    let checkpoint = bp_train::load_checkpoint::<f32>(&out.join("model.safetensors")).unwrap();
    let model = model_json(&html);
    let layers = model["layers"].as_array().unwrap();
    assert_eq!(layers.len(), checkpoint.net.affines().len());
    for (json, affine) in layers.iter().zip(checkpoint.net.affines()) {
        let w: Vec<f32> = affine.w.iter().copied().collect();
        let b: Vec<f32> = affine.b.iter().copied().collect();
        assert_eq!(decode_f32(&json["weights"]), w);
        assert_eq!(decode_f32(&json["bias"]), b);
    }
    // The confusion matrix is `eval`'s.
    let o = xtask(&[
        "eval",
        "--data-dir",
        &data_dir(),
        "--model",
        out.join("model.safetensors").to_str().unwrap(),
    ]);
    assert_success("eval", &o);
    let correct = stdout(&o)
        .split(" of 10000 correct")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .map(str::to_owned)
        .expect("eval's count");
    assert!(
        html.contains(&format!("{correct} of 10000 test images correct")),
        "{correct}"
    );
}

#[test]
fn report_rewrites_the_same_page_and_reads_old_metrics() {
    let dir = copy_of_run("rewrite");
    let path = dir.path().join("report.html");
    let original = read(&path);
    std::fs::write(&path, "stale").unwrap();
    let run = dir.path().to_str().unwrap();
    let o = xtask(&["report", "--run", run, "--data-dir", &data_dir()]);
    assert_success("cargo xtask report", &o);
    assert!(
        stdout(&o).contains(&path.display().to_string()),
        "{}",
        stdout(&o)
    );
    assert!(
        read(&path) == original,
        "report rewrites the page train wrote"
    );

    // metrics.json from before gradient norms were recorded.
    let metrics_path = dir.path().join("metrics.json");
    let mut metrics: Value = serde_json::from_str(&read(&metrics_path)).unwrap();
    metrics.as_object_mut().unwrap().remove("grad_norms");
    std::fs::write(&metrics_path, metrics.to_string()).unwrap();
    let o = xtask(&["report", "--run", run, "--data-dir", &data_dir()]);
    assert_success("cargo xtask report on old metrics", &o);
    let html = read(&path);
    assert!(html.contains("recorded no gradient norms"));
    assert!(!html.contains("id=\"grad-norms-img\""));
    assert!(html.contains("<section id=\"pad\""));
}

fn assert_clean_failure(what: &str, o: &std::process::Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(err.contains("error:"), "{what}: {err}");
    assert!(err.contains(needle), "{what}: expected {needle:?} in {err}");
}

#[test]
fn report_errors_are_one_clear_message_and_exit_1() {
    let dir = fresh_dir("errors");
    let missing = dir.path().join("no-such-run");
    let o = xtask(&["report", "--run", missing.to_str().unwrap()]);
    assert_clean_failure("a missing run", &o, "no run directory at");
    assert!(stderr(&o).contains("no-such-run"), "{}", stderr(&o));
    let o = xtask(&["report"]);
    assert_eq!(o.status.code(), Some(1), "no --run: {}", stderr(&o));
    assert!(stderr(&o).contains("--run"), "{}", stderr(&o));
    // A directory that is not a run.
    let o = xtask(&["report", "--run", dir.path().to_str().unwrap()]);
    assert_clean_failure("an empty directory", &o, "metrics.json");
    // A run of another data set than the one asked for.
    let run = copy_of_run("wrong-dataset");
    let o = xtask(&[
        "report",
        "--run",
        run.path().to_str().unwrap(),
        "--dataset",
        "fashion-mnist",
    ]);
    assert_clean_failure("the wrong data set", &o, "pass --dataset mnist");
    // No model beside the metrics.
    std::fs::remove_file(run.path().join("model.safetensors")).unwrap();
    let o = xtask(&["report", "--run", run.path().to_str().unwrap()]);
    assert_clean_failure("no model", &o, "model.safetensors");
}

/// A page open in headless Chromium, with every console error and uncaught
/// exception it reports.
struct PageUnderTest {
    _browser: Browser,
    _profile: tempfile::TempDir,
    tab: Arc<Tab>,
    errors: Arc<Mutex<Vec<String>>>,
}

impl PageUnderTest {
    fn open(path: &Path) -> Self {
        assert!(
            Path::new(CHROMIUM).is_file(),
            "{CHROMIUM} is missing: apt-get install chromium"
        );
        let profile = fresh_dir("chromium-profile");
        let args: Vec<&OsStr> = [
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ]
        .iter()
        .map(OsStr::new)
        .collect();
        let options = LaunchOptions {
            headless: true,
            sandbox: false,
            enable_gpu: false,
            path: Some(CHROMIUM.into()),
            user_data_dir: Some(profile.path().to_path_buf()),
            window_size: Some((1200, 3000)),
            idle_browser_timeout: Duration::from_secs(120),
            args,
            ..LaunchOptions::default()
        };
        let browser =
            Browser::new(options).unwrap_or_else(|e| panic!("Chromium cannot run: {e:#}"));
        let tab = browser.new_tab().expect("a tab");
        tab.enable_runtime().expect("Runtime.enable");
        tab.enable_log().expect("Log.enable");
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        tab.add_event_listener(Arc::new(move |event: &Event| {
            let error = match event {
                Event::RuntimeExceptionThrown(e) => {
                    let d = &e.params.exception_details;
                    let what = d
                        .exception
                        .as_ref()
                        .and_then(|x| x.description.clone())
                        .unwrap_or_default();
                    Some(format!("exception: {} {what}", d.text))
                }
                Event::RuntimeConsoleAPICalled(e)
                    if format!("{:?}", e.params.Type)
                        .to_lowercase()
                        .contains("error") =>
                {
                    Some(format!("console.error: {:?}", e.params.args))
                }
                Event::LogEntryAdded(e)
                    if format!("{:?}", e.params.entry.level)
                        .to_lowercase()
                        .contains("error") =>
                {
                    Some(format!("log: {}", e.params.entry.text))
                }
                _ => None,
            };
            if let Some(error) = error {
                sink.lock().unwrap_or_else(|e| e.into_inner()).push(error);
            }
        }))
        .expect("an event listener");
        let url = format!("file://{}", path.display());
        tab.navigate_to(&url)
            .and_then(|t| t.wait_until_navigated())
            .unwrap_or_else(|e| panic!("cannot load {url}: {e:#}"));
        let page = Self {
            _browser: browser,
            _profile: profile,
            tab,
            errors,
        };
        page.wait_for("document.readyState === 'complete' && !!window.bpPad");
        page
    }

    /// Evaluates `expr` in the page and returns its value as JSON (`undefined` is null).
    fn eval(&self, expr: &str) -> Value {
        let wrapped = format!("(v => v === undefined ? 'null' : JSON.stringify(v))({expr})");
        let result = self
            .tab
            .evaluate(&wrapped, false)
            .unwrap_or_else(|e| panic!("{expr}: {e:#}"));
        match result.value {
            Some(Value::String(json)) => serde_json::from_str(&json).unwrap(),
            _ => panic!("{expr} failed: {:?}", result.description),
        }
    }

    /// Waits (up to 10 s) until `expr` is true in the page.
    fn wait_for(&self, expr: &str) {
        let start = Instant::now();
        while self.eval(&format!("!!({expr})")) != Value::Bool(true) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "timed out waiting for {expr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn errors(&self) -> Vec<String> {
        self.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn mouse(&self, kind: Input::DispatchMouseEventTypeOption, x: f64, y: f64, buttons: u32) {
        let button = if buttons == 0 && kind == Input::DispatchMouseEventTypeOption::MouseMoved {
            Input::MouseButton::None
        } else {
            Input::MouseButton::Left
        };
        self.tab
            .call_method(Input::DispatchMouseEvent {
                Type: kind,
                x,
                y,
                modifiers: None,
                timestamp: None,
                button: Some(button),
                buttons: Some(buttons),
                click_count: Some(1),
                force: None,
                tangential_pressure: None,
                tilt_x: None,
                tilt_y: None,
                twist: None,
                delta_x: None,
                delta_y: None,
                pointer_Type: None,
            })
            .expect("Input.dispatchMouseEvent");
    }
}

/// A greyscale picture a user could give: `width x height` bytes, row-major.
struct Picture {
    name: String,
    width: usize,
    height: usize,
    grey: Vec<u8>,
}

/// MNIST test images 0..20 as users would give them, each through one of five
/// transformations that take the preparation down its different paths.
fn pictures() -> Vec<(Picture, u8)> {
    let mnist = bp_data::load_dir(&real_data("mnist").join("mnist"), bp_data::Dataset::Mnist)
        .expect("the MNIST test set");
    (0..20)
        .map(|i| {
            let img = mnist.test.image(i).expect("a test image");
            let label = mnist.test.labels()[i];
            let at = |r: usize, c: usize| img[[r.min(27), c.min(27)]];
            let (name, width, height, grey): (&str, usize, usize, Vec<u8>) = match i % 5 {
                // 4 times larger, dark ink on a light page: inverted, shrunk.
                0 => (
                    "large-dark-on-light",
                    112,
                    112,
                    (0..112 * 112)
                        .map(|p| 255 - at(p / 112 / 4, p % 112 / 4))
                        .collect(),
                ),
                // As in the data set: light on dark, already 28x28.
                1 => ("as-is", 28, 28, img.iter().copied().collect()),
                // Stretched (3 wide, 5 tall per pixel) on grey paper with grey ink.
                2 => (
                    "stretched-grey-paper",
                    84,
                    140,
                    (0..84 * 140)
                        .map(|p| 200 - (u32::from(at(p / 84 / 5, p % 84 / 3)) * 150 / 255) as u8)
                        .collect(),
                ),
                // Half size (14x14, 2x2 means): the ink is enlarged, bilinear.
                3 => (
                    "half-size",
                    14,
                    14,
                    (0..14 * 14)
                        .map(|p| {
                            let (r, c) = (p / 14 * 2, p % 14 * 2);
                            let sum: u32 = [(0, 0), (0, 1), (1, 0), (1, 1)]
                                .iter()
                                .map(|&(dr, dc)| u32::from(at(r + dr, c + dc)))
                                .sum();
                            (sum / 4) as u8
                        })
                        .collect(),
                ),
                // Off-centre on a wide light page.
                _ => (
                    "off-centre",
                    100,
                    60,
                    (0..100 * 60)
                        .map(|p| {
                            let (r, c) = (p / 100, p % 100);
                            if (10..38).contains(&r) && (60..88).contains(&c) {
                                255 - at(r - 10, c - 60)
                            } else {
                                250
                            }
                        })
                        .collect(),
                ),
            };
            let name = format!("{i:02}-{name}");
            let picture = Picture {
                name,
                width,
                height,
                grey,
            };
            (picture, label)
        })
        .collect()
}

fn write_png(path: &Path, p: &Picture) {
    let file = std::fs::File::create(path).expect("create a PNG");
    let mut encoder = png::Encoder::new(file, p.width as u32, p.height as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().expect("a PNG header");
    writer.write_image_data(&p.grey).expect("PNG data");
}

#[test]
fn the_page_loads_offline_with_every_section_and_no_error() {
    let page = PageUnderTest::open(&short_run().join("report.html"));
    for id in SECTIONS {
        assert_eq!(
            page.eval(&format!("document.getElementById('{id}')?.tagName")),
            "SECTION",
            "{id}"
        );
    }
    // Every image (figures, mistakes, weights) decoded from its data URI.
    let images = page.eval(
        "Array.from(document.images).map(i => [i.complete && i.naturalWidth > 0, i.src.slice(0, 22)])",
    );
    let images = images.as_array().unwrap();
    assert_eq!(images.len(), 3 + 48 + 50, "{images:?}");
    for i in images {
        assert_eq!(i[0], true, "an image did not decode");
        assert_eq!(i[1], "data:image/png;base64,");
    }
    // Nothing was fetched: every resource the page loaded is the page itself.
    let resources = page.eval("performance.getEntriesByType('resource').map(r => r.name)");
    assert_eq!(resources, Value::Array(Vec::new()));
    assert_eq!(
        page.eval("document.querySelectorAll('#confusion-matrix td').length"),
        100
    );
    assert_eq!(
        page.eval("bpPad.predicted()"),
        -1,
        "an empty pad predicts nothing"
    );
    assert_eq!(page.eval("bpPad.probs().length"), 0);
    let errors = page.errors();
    assert!(errors.is_empty(), "{errors:?}");
    // The collector does hear errors: a console error and an uncaught exception.
    page.eval("console.error('probe one'), setTimeout(() => { throw new Error('probe two'); }), 0");
    let start = Instant::now();
    while page.errors().len() < 2 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let errors = page.errors().join("\n");
    assert!(
        errors.contains("probe one") && errors.contains("probe two"),
        "{errors}"
    );
}

#[test]
fn the_pad_prepares_and_classifies_images_as_cargo_xtask_predict_does() {
    let run = short_run();
    let dir = fresh_dir("pad-vs-predict");
    let pictures = pictures();
    let mut args = vec![
        "predict".to_string(),
        "--json".into(),
        "--model".into(),
        run.join("model.safetensors").display().to_string(),
    ];
    for (p, _) in &pictures {
        let path = dir.path().join(format!("{}.png", p.name));
        write_png(&path, p);
        args.push(path.display().to_string());
    }
    let o = xtask(&args);
    assert_success("cargo xtask predict --json", &o);
    let answers: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(answers.len(), pictures.len());

    let page = PageUnderTest::open(&run.join("report.html"));
    let mut right = 0;
    for ((p, label), answer) in pictures.iter().zip(&answers) {
        let what = &p.name;
        assert!(answer["file"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{what}.png")));
        let grey = serde_json::to_string(&p.grey).unwrap();
        let predicted = page.eval(&format!(
            "bpPad.setImage({}, {}, {grey})",
            p.width, p.height
        ));
        assert_eq!(page.eval("bpPad.predicted()"), predicted, "{what}");
        // The page's 28x28 input is bp-data's prepared digit, byte for byte.
        let prepared: Vec<f64> = serde_json::from_value(page.eval("bpPad.prepared()")).unwrap();
        let page_bytes: Vec<u8> = prepared.iter().map(|v| (v * 255.0).round() as u8).collect();
        let rust = bp_data::digit::prepare_digit(&p.grey, p.width, p.height).unwrap();
        assert_eq!(page_bytes, rust.to_vec(), "{what}: the preparations differ");
        // And the net's answer is predict's: the class, and the probabilities
        // up to float rounding (the page adds up in f64, Rust in f32).
        assert_eq!(predicted, answer["class"], "{what}");
        let page_probs: Vec<f64> = serde_json::from_value(page.eval("bpPad.probs()")).unwrap();
        let rust_probs: Vec<f64> = serde_json::from_value(answer["probs"].clone()).unwrap();
        assert_eq!(page_probs.len(), 10);
        for (k, (a, b)) in page_probs.iter().zip(&rust_probs).enumerate() {
            assert!(
                (a - b).abs() < 1e-5,
                "{what}, class {k}: page {a}, predict {b}"
            );
        }
        if predicted == u64::from(*label) {
            right += 1;
        }
    }
    // A net at 90% reads most of them (a broken preparation reads few).
    assert!(right >= 14, "only {right} of 20 read right");

    // Test image 0 (a 7), 4 times larger and inverted, as the bars show it.
    let (seven, _) = &pictures[0];
    let grey = serde_json::to_string(&seven.grey).unwrap();
    assert_eq!(page.eval(&format!("bpPad.setImage(112, 112, {grey})")), 7);
    let top = page.eval("document.querySelector('.bar-row.top .bar-label').textContent");
    assert_eq!(top, "7");
    let verdict = page.eval("document.getElementById('pad-prediction').textContent");
    assert!(verdict.as_str().unwrap().starts_with("7 ("), "{verdict}");
    // A blank page has no ink: no prediction, as predict refuses it.
    let blank = serde_json::to_string(&vec![230u8; 50 * 50]).unwrap();
    assert_eq!(page.eval(&format!("bpPad.setImage(50, 50, {blank})")), -1);
    assert_eq!(page.eval("bpPad.prepared()"), Value::Null);
    assert!(bp_data::digit::prepare_digit(&[230u8; 2500], 50, 50).is_err());
    // A bad call is the caller's error, not the page's.
    let thrown = page.eval(
        "(() => { try { bpPad.setImage(2, 2, [0]); return 'no'; } catch (e) { return 'thrown'; } })()",
    );
    assert_eq!(thrown, "thrown");
    let errors = page.errors();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn drawing_with_the_pointer_updates_the_bars_and_clear_empties_them() {
    let page = PageUnderTest::open(&short_run().join("report.html"));
    page.eval("document.getElementById('pad-canvas').scrollIntoView()");
    let rect = page.eval(
        "(r => [r.left, r.top, r.width, r.height])(document.getElementById('pad-canvas').getBoundingClientRect())",
    );
    let r: Vec<f64> = serde_json::from_value(rect).unwrap();
    let (left, top, width, height) = (r[0], r[1], r[2], r[3]);
    use Input::DispatchMouseEventTypeOption::{MouseMoved, MousePressed, MouseReleased};
    // A vertical stroke down the middle: a 1.
    let x = left + width / 2.0;
    page.mouse(MousePressed, x, top + 0.15 * height, 1);
    for k in 1..=20 {
        let y = top + (0.15 + 0.7 * f64::from(k) / 20.0) * height;
        page.mouse(MouseMoved, x, y, 1);
    }
    page.mouse(MouseReleased, x, top + 0.85 * height, 0);
    page.wait_for("bpPad.predicted() >= 0");
    let probs: Vec<f64> = serde_json::from_value(page.eval("bpPad.probs()")).unwrap();
    assert_eq!(probs.len(), 10);
    assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{probs:?}");
    assert_eq!(
        page.eval("bpPad.predicted()"),
        1,
        "a vertical stroke: {probs:?}"
    );
    let width_of_top = page.eval("document.querySelector('.bar-row.top .fill').style.width");
    assert_ne!(width_of_top, "0.0%");
    // The canvas holds ink where the stroke went, and the preview shows it.
    let ink = page.eval(
        "(c => c.getContext('2d').getImageData(c.width / 2, c.height / 2, 1, 1).data[0])(document.getElementById('pad-canvas'))",
    );
    assert_eq!(ink, 0, "black ink in the middle of the pad");

    page.eval("document.getElementById('pad-clear').click()");
    assert_eq!(page.eval("bpPad.predicted()"), -1);
    assert_eq!(page.eval("bpPad.probs().length"), 0);
    assert_eq!(
        page.eval("document.getElementById('pad-prediction').textContent"),
        "Draw a digit"
    );
    let errors = page.errors();
    assert!(errors.is_empty(), "{errors:?}");
}
