//! Computational-graph pictures in the style of the book's figures 5-16 and
//! 5-17: nodes laid out left to right, each edge with its forward value above
//! it and its backward gradient, in red, below it.
//!
//! A [`Diagram`] is plain data: nodes (a label and a [`NodeStyle`]) and edges
//! (two node indices and the texts to write on them). The texts are the
//! caller's, already formatted; this module only measures and places them.
//!
//! Why the description type lives here and not in `bp-layers`: this crate
//! depends on no other `bp-*` crate and draws any graph, so it needs a type of
//! its own that says only what to draw (texts and node shapes). `bp-layers`
//! records what a graph computed (numbers, shapes) without pulling in a plotting
//! library; `cargo xtask graph` maps one to the other in a few lines.
//!
//! # Layout
//! Every node sits in a column: a node that has inputs goes one column right of
//! its furthest input, a node with no inputs goes just left of the node it
//! feeds. The graph is laid out as a tree along each node's first outgoing
//! edge: a node's inputs are stacked top to bottom in the order of their edges,
//! as close as the other nodes in their columns allow, and the node is level
//! with the middle of those inputs that have inputs themselves (of all of them
//! when none has). Edges run horizontally from their source and bend into their
//! target at the end, so every label sits on a horizontal stretch. Columns are
//! spaced to fit the widest label they carry; the image is sized to fit.
//!
//! ```
//! use bp_plot::graph::{render_graph, Diagram, NodeStyle};
//! use bp_plot::Format;
//!
//! # fn main() -> Result<(), bp_plot::PlotError> {
//! let mut d = Diagram::default();
//! let apple = d.node("apple", NodeStyle::Terminal);
//! let num = d.node("apple num", NodeStyle::Terminal);
//! let mul = d.node("×", NodeStyle::Circle);
//! let price = d.node("price", NodeStyle::Terminal);
//! d.edge(apple, mul, "", "100", "2");
//! d.edge(num, mul, "", "2", "100");
//! d.edge(mul, price, "", "200", "1");
//!
//! let svg = String::from_utf8(render_graph(Format::Svg, &d)?).unwrap();
//! assert!(svg.contains("apple num") && svg.contains(">\n200\n<"));
//!
//! // An edge to a node that does not exist is an error, never a panic.
//! d.edge(price, 7, "", "", "");
//! assert!(matches!(render_graph(Format::Png, &d), Err(bp_plot::PlotError::InvalidGraph(_))));
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{
    drawing, render_compressed, write_atomic, DynArea, Format, PlotError, PlotOptions, FONT,
    FONT_FAMILY, MAX_SIDE,
};

/// Colour of the gradient texts (matplotlib's `tab:red`), as RGB.
pub const GRADIENT_RGB: (u8, u8, u8) = (214, 39, 40);
/// Colour of the edge notes (grey), as RGB.
pub const NOTE_RGB: (u8, u8, u8) = (105, 105, 105);
/// Most nodes a diagram may have (the layout is quadratic in them).
pub const MAX_NODES: usize = 500;

const OP_FONT: f64 = 26.0;
const NODE_FONT: f64 = 19.0;
const EDGE_FONT: f64 = 16.0;
const NOTE_FONT: f64 = 14.0;
const TITLE_FONT: f64 = 21.0;
const CAPTION_FONT: f64 = 15.0;
const MARGIN: f64 = 24.0;
/// Between an edge's line and the texts above and below it.
const TEXT_GAP: f64 = 5.0;
/// Free space left and right of an edge's widest text.
const LABEL_PAD: f64 = 12.0;
/// Between a terminal's text and its edge.
const TERMINAL_GAP: f64 = 7.0;
const MIN_COLUMN_GAP: f64 = 140.0;
const MIN_ROW_HEIGHT: f64 = 80.0;
const ARROW_LENGTH: f64 = 10.0;
const ARROW_HALF_WIDTH: f64 = 4.5;

/// How a node is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeStyle {
    /// Plain text: an input left of its edge, or an output right of its edge.
    Terminal,
    /// A circle around a short operation symbol such as `×` or `+`.
    Circle,
    /// A box around a layer name such as `Affine1`.
    Box,
}

/// A node: its label and how it is drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The text in (or, for a terminal, as) the node.
    pub label: String,
    /// Its shape.
    pub style: NodeStyle,
}

/// An edge from node `from` to node `to` (indices into [`Diagram::nodes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Index of the source node.
    pub from: usize,
    /// Index of the target node.
    pub to: usize,
    /// Small grey text above the value (a name or shape); may be empty.
    pub note: String,
    /// The forward value, written above the edge; may be empty.
    pub value: String,
    /// The backward gradient, written in red below the edge; may be empty.
    pub gradient: String,
}

/// A computational graph to draw.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagram {
    /// Optional title at the top left.
    pub title: Option<String>,
    /// Optional line of explanation at the bottom.
    pub caption: Option<String>,
    /// The nodes.
    pub nodes: Vec<Node>,
    /// The edges, in the order that decides how inputs are stacked.
    pub edges: Vec<Edge>,
}

impl Diagram {
    /// Adds a node and returns its index.
    pub fn node(&mut self, label: impl Into<String>, style: NodeStyle) -> usize {
        self.nodes.push(Node {
            label: label.into(),
            style,
        });
        self.nodes.len() - 1
    }

    /// Adds an edge with its note, value (above) and gradient (below).
    pub fn edge(
        &mut self,
        from: usize,
        to: usize,
        note: impl Into<String>,
        value: impl Into<String>,
        gradient: impl Into<String>,
    ) {
        self.edges.push(Edge {
            from,
            to,
            note: note.into(),
            value: value.into(),
            gradient: gradient.into(),
        });
    }
}

/// Draws `diagram` to a `.png` or `.svg` file (written atomically, directory created).
pub fn plot_graph(path: &Path, diagram: &Diagram) -> Result<(), PlotError> {
    let format = Format::from_path(path)?;
    let bytes = render_graph(format, diagram)?;
    write_atomic(path, &bytes)
}

/// Renders `diagram` into memory (PNG bytes or SVG text as UTF-8); the size follows the layout.
pub fn render_graph(format: Format, diagram: &Diagram) -> Result<Vec<u8>, PlotError> {
    let layout = layout(diagram)?;
    let options = PlotOptions {
        size: (layout.width, layout.height),
        ..PlotOptions::default()
    };
    // Mostly white with a few colours: the best compression keeps the files small.
    render_compressed(
        format,
        &options,
        png::Compression::Best,
        |area| match area {
            DynArea::Bitmap(root) => paint(&root, &layout, true),
            DynArea::Svg(root) => paint(&root, &layout, false),
        },
    )
}

/// An axis-aligned box in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Rect {
    fn around(x: f64, y: f64, half_w: f64, half_h: f64) -> Rect {
        Rect {
            x0: x - half_w,
            y0: y - half_h,
            x1: x + half_w,
            y1: y + half_h,
        }
    }

    fn union(self, o: Rect) -> Rect {
        Rect {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }

    #[cfg(test)]
    fn intersects(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    #[cfg(test)]
    fn contains(&self, (x, y): (f64, f64)) -> bool {
        self.x0 < x && x < self.x1 && self.y0 < y && y < self.y1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Center,
    Right,
}

#[derive(Debug, Clone, PartialEq)]
enum Prim {
    /// Text vertically centred on `y`.
    Text {
        text: String,
        x: f64,
        y: f64,
        size: f64,
        rgb: (u8, u8, u8),
        align: Align,
    },
    Circle {
        x: f64,
        y: f64,
        r: f64,
    },
    Box(Rect),
    Line(Vec<(f64, f64)>),
    /// A filled arrow head with its tip at `tip`, pointing away from `from`.
    Arrow {
        tip: (f64, f64),
        from: (f64, f64),
    },
}

/// What an item belongs to, so the overlap checks know which contacts are meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Node(usize),
    Edge(usize),
    Frame,
}

#[derive(Debug, Clone, PartialEq)]
struct Item {
    owner: Owner,
    prim: Prim,
    bbox: Rect,
}

#[derive(Debug)]
struct Layout {
    width: u32,
    height: u32,
    items: Vec<Item>,
}

/// The embedded font, parsed once.
fn font() -> Result<&'static FontRef<'static>, PlotError> {
    static PARSED: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    PARSED
        .get_or_init(|| FontRef::try_from_slice(FONT).ok())
        .as_ref()
        .ok_or(PlotError::Font)
}

/// Pen positions of `text`'s glyphs from its left end, and its width.
fn glyph_advances(font: &FontRef<'static>, text: &str, size: f64) -> (Vec<f32>, f32) {
    let scaled = font.as_scaled(PxScale::from(size as f32));
    let mut caret = 0.0;
    let mut prev = None;
    let mut at = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            caret += scaled.kern(p, id);
        }
        at.push(caret);
        caret += scaled.h_advance(id);
        prev = Some(id);
    }
    (at, caret)
}

fn text_width(text: &str, size: f64) -> Result<f64, PlotError> {
    Ok(f64::from(glyph_advances(font()?, text, size).1))
}

fn invalid(msg: String) -> PlotError {
    PlotError::InvalidGraph(msg)
}

/// Horizontal extent of a node around its anchor, and half its height.
#[derive(Debug, Clone, Copy)]
struct Extent {
    left: f64,
    right: f64,
    half_h: f64,
    /// Width of the label text.
    text_w: f64,
    font: f64,
}

/// Columns and rows (in row units) of every node.
fn grid(d: &Diagram) -> Result<(Vec<usize>, Vec<f64>), PlotError> {
    let n = d.nodes.len();
    if n == 0 {
        return Err(invalid("the diagram has no nodes".into()));
    }
    if n > MAX_NODES {
        return Err(invalid(format!(
            "{n} nodes: at most {MAX_NODES} can be drawn"
        )));
    }
    let mut inputs: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut outputs: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, e) in d.edges.iter().enumerate() {
        if e.from >= n || e.to >= n {
            return Err(invalid(format!(
                "edge {i} joins nodes {} and {}, but there are {n} nodes",
                e.from, e.to
            )));
        }
        if e.from == e.to {
            return Err(invalid(format!("edge {i} joins node {} to itself", e.from)));
        }
        inputs[e.to].push(e.from);
        outputs[e.from].push(e.to);
    }

    // Kahn's topological order; what is left over lies on a cycle.
    let mut pending: Vec<usize> = inputs.iter().map(Vec::len).collect();
    let mut order: Vec<usize> = (0..n).filter(|&v| pending[v] == 0).collect();
    let mut next = 0;
    while next < order.len() {
        let v = order[next];
        next += 1;
        for &w in &outputs[v] {
            pending[w] -= 1;
            if pending[w] == 0 {
                order.push(w);
            }
        }
    }
    if order.len() < n {
        let on_cycle = (0..n).find(|&v| pending[v] > 0).unwrap_or(0);
        return Err(invalid(format!(
            "the edges form a cycle (through node {on_cycle}, {:?})",
            d.nodes[on_cycle].label
        )));
    }

    let mut col = vec![0usize; n];
    for &v in &order {
        if let Some(m) = inputs[v].iter().map(|&u| col[u]).max() {
            col[v] = m + 1;
        }
    }
    // Sources sit just left of the nearest node they feed.
    for v in 0..n {
        if inputs[v].is_empty() {
            if let Some(m) = outputs[v].iter().map(|&w| col[w]).min() {
                col[v] = m - 1;
            }
        }
    }

    // The tree along first outgoing edges: children in edge order.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut is_root = vec![true; n];
    for (v, root) in is_root.iter_mut().enumerate() {
        if let Some(first) = d.edges.iter().find(|e| e.from == v) {
            children[first.to].push(v);
            *root = false;
        }
    }
    for list in &mut children {
        list.sort_by_key(|&c| d.edges.iter().position(|e| e.from == c));
    }
    let roots: Vec<usize> = (0..n).filter(|&v| is_root[v]).collect();

    let mut row = vec![0.0; n];
    let forest = stack(&roots, &children, &col, &inputs, &mut row, None);
    debug_assert_eq!(forest.nodes.len(), n);
    Ok((col, row))
}

/// A placed subtree: its nodes and the rows they span in each column.
#[derive(Debug, Default)]
struct Subtree {
    nodes: Vec<usize>,
    contour: BTreeMap<usize, (f64, f64)>,
}

impl Subtree {
    fn shift(&mut self, by: f64, row: &mut [f64]) {
        for &v in &self.nodes {
            row[v] += by;
        }
        for span in self.contour.values_mut() {
            span.0 += by;
            span.1 += by;
        }
    }

    fn absorb(&mut self, other: Subtree) {
        for (c, (lo, hi)) in other.contour {
            let span = self.contour.entry(c).or_insert((lo, hi));
            span.0 = span.0.min(lo);
            span.1 = span.1.max(hi);
        }
        self.nodes.extend(other.nodes);
    }
}

/// Places the subtrees of `heads` one below the other, each as high as its
/// columns allow (one row clear of what is above it, and below the previous head).
fn stack(
    heads: &[usize],
    children: &[Vec<usize>],
    col: &[usize],
    inputs: &[Vec<usize>],
    row: &mut [f64],
    parent: Option<usize>,
) -> Subtree {
    let mut acc = Subtree::default();
    let mut prev_head: Option<f64> = None;
    for &h in heads {
        let mut sub = stack(&children[h], children, col, inputs, row, Some(h));
        let mut shift = prev_head.map_or(f64::NEG_INFINITY, |p| p + 1.0 - row[h]);
        for (c, (lo, _)) in &sub.contour {
            if let Some((_, hi)) = acc.contour.get(c) {
                shift = shift.max(hi + 1.0 - lo);
            }
        }
        if shift.is_finite() {
            sub.shift(shift, row);
        }
        prev_head = Some(row[h]);
        acc.absorb(sub);
    }
    if let Some(p) = parent {
        let inner: Vec<usize> = heads
            .iter()
            .copied()
            .filter(|&h| !inputs[h].is_empty())
            .collect();
        let level = if inner.is_empty() { heads } else { &inner[..] };
        row[p] = match (level.first(), level.last()) {
            (Some(&a), Some(&b)) => (row[a] + row[b]) / 2.0,
            _ => 0.0,
        };
        acc.nodes.push(p);
        acc.contour.insert(col[p], (row[p], row[p]));
    }
    acc
}

fn extent(node: &Node, is_source: bool) -> Result<Extent, PlotError> {
    let font = match node.style {
        NodeStyle::Circle if node.label.chars().count() <= 2 => OP_FONT,
        _ => NODE_FONT,
    };
    let text_w = text_width(&node.label, font)?;
    Ok(match node.style {
        NodeStyle::Circle => {
            let r = (text_w / 2.0 + 10.0).max(22.0);
            Extent {
                left: r,
                right: r,
                half_h: r,
                text_w,
                font,
            }
        }
        NodeStyle::Box => {
            let half_w = text_w / 2.0 + 12.0;
            Extent {
                left: half_w,
                right: half_w,
                half_h: 19.0,
                text_w,
                font,
            }
        }
        NodeStyle::Terminal => Extent {
            left: if is_source { text_w } else { 0.0 },
            right: if is_source { 0.0 } else { text_w },
            half_h: font / 2.0,
            text_w,
            font,
        },
    })
}

/// Space between a node's anchor edge and where its edges start or end.
fn gap(style: NodeStyle) -> f64 {
    match style {
        NodeStyle::Terminal => TERMINAL_GAP,
        NodeStyle::Circle | NodeStyle::Box => 0.0,
    }
}

fn edge_text_width(e: &Edge) -> Result<f64, PlotError> {
    Ok(text_width(&e.value, EDGE_FONT)?
        .max(text_width(&e.gradient, EDGE_FONT)?)
        .max(text_width(&e.note, NOTE_FONT)?))
}

/// Height of the texts above an edge's line (note and value).
fn above_height(e: &Edge) -> f64 {
    let value = if e.value.is_empty() { 0.0 } else { EDGE_FONT };
    let note = if e.note.is_empty() {
        0.0
    } else {
        NOTE_FONT + 2.0
    };
    value + note
}

/// How far before its target an edge leaves its row.
fn bend(dy: f64) -> f64 {
    if dy.abs() < 0.5 {
        0.0
    } else {
        (0.6 * dy.abs()).clamp(30.0, 60.0)
    }
}

fn layout(d: &Diagram) -> Result<Layout, PlotError> {
    let (col, row) = grid(d)?;
    let n = d.nodes.len();
    let is_source: Vec<bool> = (0..n).map(|v| !d.edges.iter().any(|e| e.to == v)).collect();
    let ext: Vec<Extent> = d
        .nodes
        .iter()
        .zip(&is_source)
        .map(|(node, &s)| extent(node, s))
        .collect::<Result<_, _>>()?;

    // Rows far enough apart for one edge's texts below and the next one's above.
    let mut row_h = MIN_ROW_HEIGHT;
    for e in &d.edges {
        let below = if e.gradient.is_empty() {
            0.0
        } else {
            EDGE_FONT
        };
        row_h = row_h.max(above_height(e) + below + 2.0 * TEXT_GAP + 26.0);
    }
    for x in &ext {
        row_h = row_h.max(2.0 * x.half_h + 26.0);
    }
    let y: Vec<f64> = row.iter().map(|r| r * row_h).collect();

    // Column positions, left to right, each as close as its nodes and edges allow.
    let columns = col.iter().max().map_or(1, |c| c + 1);
    let mut x_col = vec![0.0; columns];
    for c in 0..columns {
        let here: Vec<usize> = (0..n).filter(|&v| col[v] == c).collect();
        let mut x = here.iter().map(|&v| ext[v].left).fold(0.0, f64::max);
        if c > 0 {
            x = x.max(x_col[c - 1] + MIN_COLUMN_GAP);
        }
        for e in d.edges.iter().filter(|e| col[e.to] == c) {
            let (s, t) = (e.from, e.to);
            let need = ext[s].right
                + gap(d.nodes[s].style)
                + edge_text_width(e)?
                + 2.0 * LABEL_PAD
                + bend(y[t] - y[s])
                + ext[t].left
                + gap(d.nodes[t].style);
            x = x.max(x_col[col[s]] + need);
        }
        // Nodes of earlier columns that share a band of height keep clear of these.
        for &m in &here {
            for v in (0..n).filter(|&v| col[v] < c) {
                if (y[v] - y[m]).abs() < ext[v].half_h + ext[m].half_h + 8.0 {
                    x = x.max(x_col[col[v]] + ext[v].right + ext[m].left + 16.0);
                }
            }
        }
        x_col[c] = x;
    }

    let mut items = Vec::new();
    for (i, e) in d.edges.iter().enumerate() {
        edge_items(i, e, d, &ext, &x_col, &col, &y, &mut items);
    }
    for (v, node) in d.nodes.iter().enumerate() {
        node_items(
            v,
            node,
            ext[v],
            x_col[col[v]],
            y[v],
            is_source[v],
            &mut items,
        );
    }
    frame(d, items)
}

#[allow(clippy::too_many_arguments)]
fn edge_items(
    i: usize,
    e: &Edge,
    d: &Diagram,
    ext: &[Extent],
    x_col: &[f64],
    col: &[usize],
    y: &[f64],
    items: &mut Vec<Item>,
) {
    let (s, t) = (e.from, e.to);
    let (xs, ys) = (x_col[col[s]], y[s]);
    let (xt, yt) = (x_col[col[t]], y[t]);
    let start = (xs + ext[s].right + gap(d.nodes[s].style), ys);
    let stop_x = xt - ext[t].left - gap(d.nodes[t].style);
    let b = bend(yt - ys);
    let mut points = vec![start];
    let level_end = if b == 0.0 {
        (stop_x, ys)
    } else {
        (stop_x - b, ys)
    };
    points.push(level_end);
    if b > 0.0 {
        let end = match d.nodes[t].style {
            NodeStyle::Circle => {
                // On the circle, towards where the edge comes from.
                let (dx, dy) = (level_end.0 - xt, level_end.1 - yt);
                let len = dx.hypot(dy).max(1e-9);
                let r = ext[t].left;
                (xt + dx / len * r, yt + dy / len * r)
            }
            // Spread over the box's side, so arrows from above and below stay apart.
            NodeStyle::Box => {
                let room = (ext[t].half_h - 6.0).max(0.0);
                (stop_x, yt + (0.3 * (ys - yt)).clamp(-room, room))
            }
            NodeStyle::Terminal => (stop_x, yt),
        };
        points.push(end);
    }
    let owner = Owner::Edge(i);
    let tip = points[points.len() - 1];
    let from = points[points.len() - 2];
    let line_box = points
        .iter()
        .map(|&(x, y)| Rect::around(x, y, 1.0, 1.0))
        .reduce(Rect::union)
        .unwrap_or(Rect::around(start.0, start.1, 1.0, 1.0));
    items.push(Item {
        owner,
        prim: Prim::Line(points),
        bbox: line_box,
    });
    items.push(Item {
        owner,
        prim: Prim::Arrow { tip, from },
        bbox: Rect::around(tip.0, tip.1, ARROW_LENGTH, ARROW_LENGTH),
    });

    let cx = (start.0 + level_end.0) / 2.0;
    let mut text = |text: &str, y: f64, size: f64, rgb| {
        if !text.is_empty() {
            let w = text_width(text, size).unwrap_or(0.0);
            items.push(Item {
                owner,
                prim: Prim::Text {
                    text: text.to_string(),
                    x: cx,
                    y,
                    size,
                    rgb,
                    align: Align::Center,
                },
                bbox: Rect::around(cx, y, w / 2.0, size / 2.0),
            });
        }
    };
    let value_y = ys - TEXT_GAP - EDGE_FONT / 2.0;
    text(&e.value, value_y, EDGE_FONT, (0, 0, 0));
    let note_y = if e.value.is_empty() {
        ys - TEXT_GAP - NOTE_FONT / 2.0
    } else {
        value_y - EDGE_FONT / 2.0 - 2.0 - NOTE_FONT / 2.0
    };
    text(&e.note, note_y, NOTE_FONT, NOTE_RGB);
    text(
        &e.gradient,
        ys + TEXT_GAP + EDGE_FONT / 2.0,
        EDGE_FONT,
        GRADIENT_RGB,
    );
}

fn node_items(
    v: usize,
    node: &Node,
    x: Extent,
    cx: f64,
    cy: f64,
    is_source: bool,
    items: &mut Vec<Item>,
) {
    let owner = Owner::Node(v);
    match node.style {
        NodeStyle::Circle => items.push(Item {
            owner,
            prim: Prim::Circle {
                x: cx,
                y: cy,
                r: x.left,
            },
            bbox: Rect::around(cx, cy, x.left, x.left),
        }),
        NodeStyle::Box => {
            let r = Rect::around(cx, cy, x.left, x.half_h);
            items.push(Item {
                owner,
                prim: Prim::Box(r),
                bbox: r,
            });
        }
        NodeStyle::Terminal => {}
    }
    let (align, x0) = match (node.style, is_source) {
        (NodeStyle::Terminal, true) => (Align::Right, cx - x.text_w),
        (NodeStyle::Terminal, false) => (Align::Left, cx),
        _ => (Align::Center, cx - x.text_w / 2.0),
    };
    if !node.label.is_empty() {
        items.push(Item {
            owner,
            prim: Prim::Text {
                text: node.label.clone(),
                x: cx,
                y: cy,
                size: x.font,
                rgb: (0, 0, 0),
                align,
            },
            bbox: Rect {
                x0,
                y0: cy - x.font / 2.0,
                x1: x0 + x.text_w,
                y1: cy + x.font / 2.0,
            },
        });
    }
}

/// Moves everything inside the margins, adds the title and caption, sizes the image.
fn frame(d: &Diagram, mut items: Vec<Item>) -> Result<Layout, PlotError> {
    let bounds = items
        .iter()
        .map(|i| i.bbox)
        .reduce(Rect::union)
        .unwrap_or(Rect::around(0.0, 0.0, 1.0, 1.0));
    let title_h = if d.title.is_some() {
        TITLE_FONT + 16.0
    } else {
        0.0
    };
    let (dx, dy) = (MARGIN - bounds.x0, MARGIN + title_h - bounds.y0);
    for item in &mut items {
        translate(item, dx, dy);
    }
    let mut width = bounds.x1 - bounds.x0 + 2.0 * MARGIN;
    let mut height = bounds.y1 - bounds.y0 + 2.0 * MARGIN + title_h;
    if let Some(title) = &d.title {
        let w = text_width(title, TITLE_FONT)?;
        width = width.max(w + 2.0 * MARGIN);
        items.push(frame_text(
            title,
            MARGIN,
            MARGIN + TITLE_FONT / 2.0,
            TITLE_FONT,
            w,
        ));
    }
    if let Some(caption) = &d.caption {
        let w = text_width(caption, CAPTION_FONT)?;
        width = width.max(w + 2.0 * MARGIN);
        let y = height - MARGIN / 2.0 + CAPTION_FONT / 2.0;
        height += CAPTION_FONT + 4.0;
        items.push(frame_text(caption, MARGIN, y, CAPTION_FONT, w));
    }
    let (w, h) = (width.ceil(), height.ceil());
    if w > f64::from(MAX_SIDE) || h > f64::from(MAX_SIDE) {
        return Err(PlotError::InvalidSize {
            width: w.min(f64::from(u32::MAX)) as u32,
            height: h.min(f64::from(u32::MAX)) as u32,
        });
    }
    Ok(Layout {
        width: w as u32,
        height: h as u32,
        items,
    })
}

fn frame_text(text: &str, x: f64, y: f64, size: f64, w: f64) -> Item {
    Item {
        owner: Owner::Frame,
        prim: Prim::Text {
            text: text.to_string(),
            x,
            y,
            size,
            rgb: (0, 0, 0),
            align: Align::Left,
        },
        bbox: Rect {
            x0: x,
            y0: y - size / 2.0,
            x1: x + w,
            y1: y + size / 2.0,
        },
    }
}

fn translate(item: &mut Item, dx: f64, dy: f64) {
    let r = &mut item.bbox;
    (r.x0, r.x1, r.y0, r.y1) = (r.x0 + dx, r.x1 + dx, r.y0 + dy, r.y1 + dy);
    match &mut item.prim {
        Prim::Text { x, y, .. } | Prim::Circle { x, y, .. } => {
            *x += dx;
            *y += dy;
        }
        Prim::Box(r) => {
            (r.x0, r.x1, r.y0, r.y1) = (r.x0 + dx, r.x1 + dx, r.y0 + dy, r.y1 + dy);
        }
        Prim::Line(points) => {
            for p in points {
                *p = (p.0 + dx, p.1 + dy);
            }
        }
        Prim::Arrow { tip, from } => {
            *tip = (tip.0 + dx, tip.1 + dy);
            *from = (from.0 + dx, from.1 + dy);
        }
    }
}

fn px((x, y): (f64, f64)) -> (i32, i32) {
    (x.round() as i32, y.round() as i32)
}

/// Draws `text` glyph by glyph, vertically centred on `y` by its capital height.
///
/// plotters' own bitmap text drops each glyph's left side bearing, which makes
/// the letter spacing uneven; this places every glyph where the font says.
#[allow(clippy::too_many_arguments)]
fn raster_text<DB>(
    root: &DrawingArea<DB, Shift>,
    text: &str,
    x: f64,
    y: f64,
    size: f64,
    color: RGBColor,
    align: Align,
) -> Result<(), PlotError>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let font = font()?;
    let scale = PxScale::from(size as f32);
    let scaled = font.as_scaled(scale);
    let (at, width) = glyph_advances(font, text, size);
    let left = match align {
        Align::Left => x as f32,
        Align::Center => x as f32 - width / 2.0,
        Align::Right => x as f32 - width,
    };
    let cap = font
        .outline_glyph(scaled.scaled_glyph('H'))
        .map_or(0.7 * size as f32, |g| g.px_bounds().height());
    let baseline = y as f32 + cap / 2.0;
    let mut pixels = Vec::new();
    for (c, dx) in text.chars().zip(at) {
        let glyph = scaled
            .glyph_id(c)
            .with_scale_and_position(scale, ab_glyph::point(left + dx, baseline));
        if let Some(outline) = font.outline_glyph(glyph) {
            let b = outline.px_bounds();
            outline.draw(|gx, gy, coverage| {
                if coverage > 0.0 {
                    let px = b.min.x as i32 + gx as i32;
                    let py = b.min.y as i32 + gy as i32;
                    pixels.push(((px, py), coverage));
                }
            });
        }
    }
    for (p, coverage) in pixels {
        root.draw_pixel(p, &color.mix(f64::from(coverage.min(1.0))))
            .map_err(drawing)?;
    }
    Ok(())
}

/// Lines first, then nodes over their ends, then every text on top. `raster`:
/// draw text glyph by glyph (PNG) rather than as text elements (SVG).
fn paint<DB>(root: &DrawingArea<DB, Shift>, layout: &Layout, raster: bool) -> Result<(), PlotError>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let rank = |p: &Prim| match p {
        Prim::Line(_) | Prim::Arrow { .. } => 0,
        Prim::Circle { .. } | Prim::Box(_) => 1,
        Prim::Text { .. } => 2,
    };
    let mut items: Vec<&Item> = layout.items.iter().collect();
    items.sort_by_key(|i| rank(&i.prim));
    let stroke = BLACK.stroke_width(2);
    for item in items {
        match &item.prim {
            Prim::Line(points) => {
                let points: Vec<(i32, i32)> = points.iter().copied().map(px).collect();
                root.draw(&PathElement::new(points, stroke))
                    .map_err(drawing)?;
            }
            Prim::Arrow { tip, from } => {
                let (dx, dy) = (tip.0 - from.0, tip.1 - from.1);
                let len = dx.hypot(dy).max(1e-9);
                let (ux, uy) = (dx / len, dy / len);
                let base = (tip.0 - ux * ARROW_LENGTH, tip.1 - uy * ARROW_LENGTH);
                let (nx, ny) = (-uy * ARROW_HALF_WIDTH, ux * ARROW_HALF_WIDTH);
                let head = vec![
                    px(*tip),
                    px((base.0 + nx, base.1 + ny)),
                    px((base.0 - nx, base.1 - ny)),
                ];
                root.draw(&Polygon::new(head, BLACK.filled()))
                    .map_err(drawing)?;
            }
            Prim::Circle { x, y, r } => {
                let (c, r) = (px((*x, *y)), r.round() as i32);
                root.draw(&Circle::new(c, r, WHITE.filled()))
                    .map_err(drawing)?;
                root.draw(&Circle::new(c, r, stroke)).map_err(drawing)?;
            }
            Prim::Box(r) => {
                let corners = [px((r.x0, r.y0)), px((r.x1, r.y1))];
                root.draw(&Rectangle::new(corners, WHITE.filled()))
                    .map_err(drawing)?;
                root.draw(&Rectangle::new(corners, stroke))
                    .map_err(drawing)?;
            }
            Prim::Text {
                text,
                x,
                y,
                size,
                rgb,
                align,
            } => {
                let color = RGBColor(rgb.0, rgb.1, rgb.2);
                if raster {
                    raster_text(root, text, *x, *y, *size, color, *align)?;
                    continue;
                }
                let h = match align {
                    Align::Left => HPos::Left,
                    Align::Center => HPos::Center,
                    Align::Right => HPos::Right,
                };
                let style = (FONT_FAMILY, *size)
                    .into_font()
                    .color(&color)
                    .pos(Pos::new(h, VPos::Center));
                root.draw(&Text::new(text.as_str(), px((*x, *y)), style))
                    .map_err(drawing)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Figure 5-17's graph with the book's numbers.
    fn apple_orange() -> Diagram {
        let mut d = Diagram {
            title: Some("buy apple and orange".into()),
            caption: Some("forward values above the edges, gradients (red) below".into()),
            ..Diagram::default()
        };
        let apple = d.node("apple", NodeStyle::Terminal);
        let apple_num = d.node("apple num", NodeStyle::Terminal);
        let orange = d.node("orange", NodeStyle::Terminal);
        let orange_num = d.node("orange num", NodeStyle::Terminal);
        let tax = d.node("tax", NodeStyle::Terminal);
        let m1 = d.node("×", NodeStyle::Circle);
        let m2 = d.node("×", NodeStyle::Circle);
        let add = d.node("+", NodeStyle::Circle);
        let m3 = d.node("×", NodeStyle::Circle);
        let price = d.node("price", NodeStyle::Terminal);
        d.edge(apple, m1, "", "100", "2.2");
        d.edge(apple_num, m1, "", "2", "110");
        d.edge(orange, m2, "", "150", "3.3");
        d.edge(orange_num, m2, "", "3", "165");
        d.edge(m1, add, "", "200", "1.1");
        d.edge(m2, add, "", "450", "1.1");
        d.edge(add, m3, "", "650", "1.1");
        d.edge(tax, m3, "", "1.1", "650");
        d.edge(m3, price, "", "715", "1");
        d
    }

    /// The two-layer net's layer graph with texts as long as the real ones.
    fn net() -> Diagram {
        let mut d = Diagram::default();
        let x = d.node("x", NodeStyle::Terminal);
        let w1 = d.node("W1", NodeStyle::Terminal);
        let b1 = d.node("b1", NodeStyle::Terminal);
        let a1 = d.node("Affine1", NodeStyle::Box);
        let r1 = d.node("Relu1", NodeStyle::Box);
        let w2 = d.node("W2", NodeStyle::Terminal);
        let b2 = d.node("b2", NodeStyle::Terminal);
        let a2 = d.node("Affine2", NodeStyle::Box);
        let s = d.node("SoftmaxWithLoss", NodeStyle::Box);
        let l = d.node("loss", NodeStyle::Terminal);
        d.edge(w1, a1, "784×50", "‖W1‖ = 2.791", "‖∂L/∂W1‖ = 0.1234");
        d.edge(x, a1, "100×784", "‖x‖ = 93.52", "‖∂L/∂x‖ = 0.0001234");
        d.edge(b1, a1, "50", "‖b1‖ = 0", "‖∂L/∂b1‖ = 0.01234");
        d.edge(a1, r1, "100×50", "‖a1‖ = 12.34", "‖∂L/∂a1‖ = 0.001234");
        d.edge(w2, a2, "50×10", "‖W2‖ = 0.2236", "‖∂L/∂W2‖ = 0.1234");
        d.edge(r1, a2, "100×50", "‖z1‖ = 8.765", "‖∂L/∂z1‖ = 0.001234");
        d.edge(b2, a2, "10", "‖b2‖ = 0", "‖∂L/∂b2‖ = 0.1234");
        d.edge(a2, s, "100×10", "‖a2‖ = 0.1234", "‖∂L/∂a2‖ = 0.09487");
        d.edge(s, l, "", "L = 2.302", "∂L/∂L = 1");
        d
    }

    fn owner_of_edge_ends(d: &Diagram, owner: Owner) -> Vec<Owner> {
        match owner {
            Owner::Edge(i) => vec![
                owner,
                Owner::Node(d.edges[i].from),
                Owner::Node(d.edges[i].to),
            ],
            other => vec![other],
        }
    }

    /// Every pair of things that must not touch and does: texts and nodes
    /// against each other, lines against texts and nodes other than their own ends.
    fn collisions(d: &Diagram) -> Vec<String> {
        let layout = layout(d).expect("layout");
        let mut found = Vec::new();
        let is_line = |p: &Prim| matches!(p, Prim::Line(_) | Prim::Arrow { .. });
        for (i, a) in layout.items.iter().enumerate() {
            for b in &layout.items[i + 1..] {
                if a.owner == b.owner || is_line(&a.prim) || is_line(&b.prim) {
                    continue;
                }
                if a.bbox.intersects(&b.bbox) {
                    found.push(format!("{:?} overlaps {:?}", a.prim, b.prim));
                }
            }
        }
        for line in layout.items.iter() {
            let Prim::Line(points) = &line.prim else {
                continue;
            };
            let exempt = owner_of_edge_ends(d, line.owner);
            for other in layout.items.iter() {
                if exempt.contains(&other.owner) || is_line(&other.prim) {
                    continue;
                }
                for pair in points.windows(2) {
                    let ((x0, y0), (x1, y1)) = (pair[0], pair[1]);
                    let steps = (x1 - x0).hypot(y1 - y0).ceil() as usize + 1;
                    let hit = (0..=steps).any(|k| {
                        let f = k as f64 / steps as f64;
                        other
                            .bbox
                            .contains((x0 + f * (x1 - x0), y0 + f * (y1 - y0)))
                    });
                    if hit {
                        found.push(format!("{:?} crosses {:?}", line.owner, other.prim));
                    }
                }
            }
        }
        found
    }

    #[test]
    fn the_book_figures_have_no_overlaps() {
        assert_eq!(collisions(&apple_orange()), Vec::<String>::new());
        assert_eq!(collisions(&net()), Vec::<String>::new());
    }

    #[test]
    fn inputs_are_stacked_and_the_chain_is_level() {
        let d = apple_orange();
        let (col, row) = grid(&d).unwrap();
        // apple, apple num, orange, orange num in column 0, top to bottom.
        assert_eq!(&col[..4], &[0, 0, 0, 0]);
        assert_eq!(&row[..4], &[0.0, 1.0, 2.0, 3.0]);
        // The two × between their inputs, + between them, tax one row under +.
        assert_eq!((col[5], row[5]), (1, 0.5));
        assert_eq!((col[6], row[6]), (1, 2.5));
        assert_eq!((col[7], row[7]), (2, 1.5));
        assert_eq!((col[4], row[4]), (2, 2.5));
        // The last × and the price level with +.
        assert_eq!((col[8], row[8]), (3, 1.5));
        assert_eq!((col[9], row[9]), (4, 1.5));

        let (col, row) = grid(&net()).unwrap();
        // x, Affine1, Relu1, Affine2, SoftmaxWithLoss, loss on one level; W above, b below.
        for v in [0, 3, 4, 7, 8, 9] {
            assert_eq!(row[v], row[0], "node {v}");
        }
        assert_eq!(&col[..], &[0, 0, 0, 1, 2, 2, 2, 3, 4, 5]);
        assert!(row[1] < row[0] && row[2] > row[0] && row[5] < row[4] && row[6] > row[4]);
    }

    #[test]
    fn bad_graphs_are_errors() {
        let mut d = Diagram::default();
        assert!(matches!(layout(&d), Err(PlotError::InvalidGraph(_))));
        let a = d.node("a", NodeStyle::Circle);
        let b = d.node("b", NodeStyle::Circle);
        d.edge(a, b, "", "1", "2");
        d.edge(b, a, "", "1", "2");
        let err = layout(&d).unwrap_err().to_string();
        assert!(err.contains("cycle"), "{err}");
        d.edges.truncate(1);
        d.edge(a, a, "", "", "");
        assert!(layout(&d).unwrap_err().to_string().contains("itself"));
        d.edges.truncate(1);
        d.edge(a, 2, "", "", "");
        assert!(layout(&d).unwrap_err().to_string().contains("2 nodes"));
    }

    #[test]
    fn lone_nodes_and_long_labels_lay_out() {
        let mut d = Diagram::default();
        d.node("only", NodeStyle::Box);
        let l = layout(&d).unwrap();
        assert!(l.width > 50 && l.height > 30);
        let a = d.node("a", NodeStyle::Terminal);
        let b = d.node("a rather long operation name", NodeStyle::Circle);
        d.edge(a, b, "note", "9".repeat(40), "");
        assert_eq!(collisions(&d), Vec::<String>::new());
    }
}
