//! Graph pictures: where the texts land in the SVG, red gradients in the PNG,
//! files written, errors.

use std::fs::File;

use bp_plot::graph::{plot_graph, render_graph, Diagram, NodeStyle, GRADIENT_RGB};
use bp_plot::{Format, PlotError};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// One `<text>` element of an SVG: position, fill colour and content.
#[derive(Debug, Clone, PartialEq)]
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

fn svg_texts(svg: &str) -> Vec<SvgText> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(open) = rest.find("<text ") {
        let after = &rest[open..];
        let (Some(tag_end), Some(close)) = (after.find('>'), after.find("</text>")) else {
            break;
        };
        let tag = &after[..tag_end];
        let text = after[tag_end + 1..close]
            .trim()
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&");
        out.push(SvgText {
            x: attr(tag, "x")
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN),
            y: attr(tag, "y")
                .and_then(|v| v.parse().ok())
                .unwrap_or(f64::NAN),
            fill: attr(tag, "fill").unwrap_or_default(),
            text,
        });
        rest = &after[close..];
    }
    out
}

fn red_hex() -> String {
    format!(
        "#{:02X}{:02X}{:02X}",
        GRADIENT_RGB.0, GRADIENT_RGB.1, GRADIENT_RGB.2
    )
}

/// Two multiplications in a chain, as in figure 5-16.
fn chain() -> Diagram {
    let mut d = Diagram {
        title: Some("chain".into()),
        caption: Some("values above, gradients below".into()),
        ..Diagram::default()
    };
    let a = d.node("a", NodeStyle::Terminal);
    let b = d.node("b", NodeStyle::Terminal);
    let c = d.node("c", NodeStyle::Terminal);
    let m1 = d.node("×", NodeStyle::Circle);
    let m2 = d.node("×", NodeStyle::Circle);
    let out = d.node("out", NodeStyle::Terminal);
    d.edge(a, m1, "", "3", "20");
    d.edge(b, m1, "", "4", "15");
    d.edge(m1, m2, "", "12", "5");
    d.edge(c, m2, "", "5", "12");
    d.edge(m2, out, "", "60", "1");
    d
}

#[test]
fn values_sit_above_their_edges_and_gradients_below_in_red() -> TestResult {
    let svg = String::from_utf8(render_graph(Format::Svg, &chain())?)?;
    let texts = svg_texts(&svg);
    let find = |t: &str| {
        texts
            .iter()
            .find(|s| s.text == t)
            .cloned()
            .unwrap_or_else(|| panic!("no text {t:?} in {texts:?}"))
    };
    for (value, gradient) in [("3", "20"), ("4", "15"), ("12", "5"), ("60", "1")] {
        let (v, g) = (find(value), find(gradient));
        assert_eq!(v.fill, "#000000", "{value}");
        assert_eq!(g.fill, red_hex(), "{gradient}");
        assert_eq!(v.x, g.x, "{value} and {gradient} share their edge's middle");
        assert!(
            g.y > v.y && g.y - v.y < 40.0,
            "{gradient} just below {value}"
        );
    }
    // The labels are there once each; the inputs lie left of the × they feed.
    for label in [
        "a",
        "b",
        "c",
        "out",
        "chain",
        "values above, gradients below",
    ] {
        assert_eq!(
            texts.iter().filter(|t| t.text == label).count(),
            1,
            "{label}"
        );
    }
    let times: Vec<&SvgText> = texts.iter().filter(|t| t.text == "×").collect();
    assert_eq!(times.len(), 2);
    assert!(find("a").x < times[0].x && times[0].x < times[1].x && times[1].x < find("out").x);
    // The chain is level: the first product's edge, the second × and the result.
    assert_eq!(times[1].y, find("out").y);
    assert!(find("a").y < find("b").y, "inputs stacked in edge order");
    Ok(())
}

#[test]
fn changed_texts_are_what_is_drawn() -> TestResult {
    let mut d = chain();
    d.edges[0].value = "3.25".into();
    d.edges[0].gradient = "‖∂L/∂a‖ = 0.01".into();
    let svg = String::from_utf8(render_graph(Format::Svg, &d)?)?;
    let texts: Vec<String> = svg_texts(&svg).into_iter().map(|t| t.text).collect();
    assert!(texts.contains(&"3.25".to_string()), "{texts:?}");
    assert!(texts.contains(&"‖∂L/∂a‖ = 0.01".to_string()), "{texts:?}");
    assert!(!texts.contains(&"3".to_string()) && !texts.contains(&"20".to_string()));
    Ok(())
}

#[test]
fn png_has_the_gradients_in_red() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("sub/chain.png");
    plot_graph(&path, &chain())?;
    let decoder = png::Decoder::new(File::open(&path)?);
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf)?;
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let (w, h) = (info.width as usize, info.height as usize);
    assert!(w > 300 && h > 150 && w < 2000 && h < 1000, "{w}x{h}");
    let px = |x: usize, y: usize| {
        let i = (y * w + x) * 3;
        (buf[i], buf[i + 1], buf[i + 2])
    };
    let reddish = |(r, g, b): (u8, u8, u8)| r > 150 && g < 110 && b < 110;
    let dark = |(r, g, b): (u8, u8, u8)| u32::from(r) + u32::from(g) + u32::from(b) < 150;
    let rows_with = |pred: &dyn Fn((u8, u8, u8)) -> bool| -> Vec<usize> {
        (0..h).filter(|&y| (0..w).any(|x| pred(px(x, y)))).collect()
    };
    let red_rows = rows_with(&reddish);
    assert!(red_rows.len() > 20, "red text on {} rows", red_rows.len());
    assert!(!rows_with(&dark).is_empty());
    // The glyphs' solid pixels are exactly the gradient colour.
    let exact = (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| px(x, y) == GRADIENT_RGB)
        .count();
    assert!(exact > 10, "{exact} pixels of exactly the gradient colour");
    Ok(())
}

#[test]
fn svg_and_png_files_follow_the_extension() -> TestResult {
    let dir = tempfile::tempdir()?;
    plot_graph(&dir.path().join("g.svg"), &chain())?;
    plot_graph(&dir.path().join("g.PNG"), &chain())?;
    let svg = std::fs::read_to_string(dir.path().join("g.svg"))?;
    assert!(svg.starts_with("<svg"));
    let png = std::fs::read(dir.path().join("g.PNG"))?;
    assert_eq!(&png[1..4], b"PNG");
    let err = plot_graph(&dir.path().join("g.jpg"), &chain()).unwrap_err();
    assert!(matches!(err, PlotError::UnsupportedFormat { .. }), "{err}");
    Ok(())
}

#[test]
fn an_unwritable_destination_is_an_io_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x")?;
    let err = plot_graph(&file.join("g.svg"), &chain()).unwrap_err();
    assert!(matches!(err, PlotError::Io { .. }), "{err}");
    assert!(err.to_string().contains("a-file"), "{err}");
    Ok(())
}

#[test]
fn wide_labels_widen_the_picture() -> TestResult {
    let narrow = String::from_utf8(render_graph(Format::Svg, &chain())?)?;
    let mut d = chain();
    d.edges[2].value = "a much longer value than any of the others".into();
    let wide = String::from_utf8(render_graph(Format::Svg, &d)?)?;
    let width = |svg: &str| -> f64 {
        attr(&svg[..svg.find('>').unwrap_or(0)], "width")
            .and_then(|w| w.parse().ok())
            .unwrap_or(0.0)
    };
    assert!(
        width(&wide) > width(&narrow) + 150.0,
        "{} vs {}",
        width(&wide),
        width(&narrow)
    );
    Ok(())
}
