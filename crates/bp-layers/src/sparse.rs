//! The fast path for sparse inputs: [`SparseAffine`], a first layer that
//! computes [`Affine`]'s products from the non-zero pixels only.
//!
//! MNIST pixels are about 81% zeros. With each input row kept as a list of
//! `(column, value)` pairs ([`SparseRows`]), `x W` gathers one row of `W` per
//! non-zero and `dW = xᵀ dout` scatters into the same rows: the same mathematics
//! as the dense products, about a fifth of the work. It is one implementation
//! of [`InputLayer`]: a net built with it
//! ([`MultiLayerNet::with_input_layer`](crate::MultiLayerNet::with_input_layer))
//! runs the rest of its layers as the book does; tests check both agree.
//!
//! ```
//! use bp_core::Targets;
//! use bp_layers::sparse::{SparseAffine, SparseBatch, SparseRows};
//! use bp_layers::{gradient_check, MultiLayerNet, TwoLayerNet};
//! use ndarray::Array2;
//! use rand::SeedableRng;
//!
//! let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
//! let net = TwoLayerNet::<f64>::new(6, 4, 3, 0.1, &mut rng).unwrap();
//! let mut net: MultiLayerNet<f64, SparseAffine<f64>> = net.into_inner().with_input_layer();
//! let pixels = Array2::from_shape_fn((5, 6), |(i, j)| if (i + j) % 3 == 0 { 200u8 } else { 0 });
//! let images = SparseRows::from_u8(pixels.view(), 1.0 / 255.0).unwrap();
//! let batch = SparseBatch::from_rows(&images, &[0, 2, 4]).unwrap();
//! let t = [0, 1, 2];
//!
//! let grads = net.gradient(batch.view(), Targets::Labels(&t)).unwrap();
//! assert!(grads.loss > 0.0);
//! for check in gradient_check(&mut net, batch.view(), Targets::Labels(&t)).unwrap() {
//!     assert!(check.max_rel_err < 1e-6, "{}: {}", check.name, check.max_rel_err);
//! }
//! ```
//!
//! How the work is laid out (each choice measured with `cargo bench -p bp-layers`):
//! * forward, row by row: a row's outputs are summed in registers over its
//!   non-zeros, then written once;
//! * backward, column by column ([`SparseBatch`] regroups a batch by column with a
//!   counting sort): each row of `dW` is summed in registers, then written once;
//! * the usual widths (50, 100, ...) get kernels whose width is a compile-time
//!   constant, which is what lets the compiler keep the sums in registers;
//! * the kernels are compiled for AVX-512, AVX2+FMA and the baseline, and picked
//!   at run time by the [`pulp`] crate (the default x86-64 target is SSE2 only),
//!   with no `unsafe` here;
//! * with FMA they sum with fused multiply-adds (one rounding per term, and
//!   faster), and the backward reads `dout` from rows copied onto 64-byte
//!   boundaries (loads that straddle two cache lines cost about twice);
//! * the forward is bound by fetching `W`'s rows from L2, a cache line at a
//!   time: with enough non-zeros it first copies `W` into rows of whole lines
//!   that start on a line boundary plus a small array of the last columns
//!   (MNIST's rows of 50 floats: 3 lines instead of 4), the same bits.
//!
//! What each of these gained, measured, is in docs/performance.md; numbers in
//! comments would go stale.

use std::ops::Range;

use bp_core::{check_same_shape, CoreError, Float};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, Axis};

use crate::{Affine, InputLayer, LayerError, Result};

/// Rows of a `u8` matrix as `(column, value)` lists of their non-zeros, read as
/// `value * scale` (e.g. `1/255` for normalised pixels).
///
/// A compact form: 3 bytes per non-zero (MNIST's 70000 images take about 32 MB).
#[derive(Debug, Clone, PartialEq)]
pub struct SparseRows {
    width: usize,
    scale: f64,
    /// Row `i` is `cols[indptr[i]..indptr[i + 1]]`.
    indptr: Vec<usize>,
    cols: Vec<u16>,
    vals: Vec<u8>,
}

impl SparseRows {
    /// Keeps the non-zeros of each row of `x`; entries read as `value * scale`.
    pub fn from_u8(x: ArrayView2<'_, u8>, scale: f64) -> Result<Self> {
        Self::from_u8_threads(x, scale, 1)
    }

    /// [`from_u8`](Self::from_u8) on up to `threads` threads, each building a
    /// range of rows; the result is the same.
    pub fn from_u8_threads(x: ArrayView2<'_, u8>, scale: f64, threads: usize) -> Result<Self> {
        let (rows, width) = x.dim();
        if width > usize::from(u16::MAX) + 1 {
            return Err(LayerError::Config(format!(
                "SparseRows: rows of width {width} exceed the 65536 columns a u16 index holds"
            )));
        }
        let x = x.as_standard_layout();
        let data = x.as_slice().unwrap_or(&[]);
        if width == 0 {
            return Ok(Self {
                width,
                scale,
                indptr: vec![0; rows + 1],
                cols: Vec::new(),
                vals: Vec::new(),
            });
        }
        // Whole rows per part: counting each part's non-zeros first tells
        // where its entries go, so the parts fill disjoint slices.
        let per = rows.div_ceil(threads.clamp(1, rows.max(1))).max(1);
        let parts: Vec<&[u8]> = data[..rows * width].chunks(per * width).collect();
        let counts: Vec<usize> = in_parallel(parts.clone(), count_nonzero);
        let nnz = counts.iter().sum();
        let (mut cols, mut vals) = (vec![0u16; nnz], vec![0u8; nnz]);
        let mut slices = Vec::with_capacity(parts.len());
        let (mut cols_rest, mut vals_rest) = (&mut cols[..], &mut vals[..]);
        for (&part, &count) in parts.iter().zip(&counts) {
            let (c, cr) = cols_rest.split_at_mut(count);
            let (v, vr) = vals_rest.split_at_mut(count);
            (cols_rest, vals_rest) = (cr, vr);
            slices.push((part, c, v));
        }
        let ends = in_parallel(slices, |(part, c, v)| fill_rows(part, width, c, v));
        let mut indptr = Vec::with_capacity(rows + 1);
        indptr.push(0);
        let mut base = 0;
        for (part_ends, count) in ends.iter().zip(&counts) {
            indptr.extend(part_ends.iter().map(|&e| base + e));
            base += count;
        }
        Ok(Self {
            width,
            scale,
            indptr,
            cols,
            vals,
        })
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Width of a dense row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of stored non-zeros.
    pub fn nnz(&self) -> usize {
        self.cols.len()
    }

    /// Fraction of entries that are non-zero.
    pub fn density(&self) -> f64 {
        let total = self.nrows() * self.width;
        if total == 0 {
            0.0
        } else {
            self.nnz() as f64 / total as f64
        }
    }

    /// The value of one stored unit (`scale`).
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Columns and raw values of row `i`.
    fn row(&self, i: usize) -> (&[u16], &[u8]) {
        let r = self.indptr[i]..self.indptr[i + 1];
        (&self.cols[r.clone()], &self.vals[r])
    }

    /// Row `i` as a dense vector (for tests and checks).
    pub fn dense_row<F: Float>(&self, i: usize) -> Result<Array1<F>> {
        self.check_rows(&[i])?;
        let mut out = Array1::zeros(self.width);
        let (cols, vals) = self.row(i);
        for (&c, &v) in cols.iter().zip(vals) {
            out[usize::from(c)] = F::of(f64::from(v) * self.scale);
        }
        Ok(out)
    }

    fn check_rows(&self, rows: &[usize]) -> Result<()> {
        match rows.iter().find(|&&r| r >= self.nrows()) {
            Some(&r) => Err(LayerError::Core(CoreError::InvalidArgument {
                op: "SparseRows".into(),
                why: format!("row {r} out of range for {} rows", self.nrows()),
            })),
            None => Ok(()),
        }
    }
}

/// Writes the non-zeros of the rows of `data` (rows of `width` bytes) into
/// `cols` and `vals`, which hold exactly that many; returns where each row's
/// entries end.
fn fill_rows(data: &[u8], width: usize, cols: &mut [u16], vals: &mut [u8]) -> Vec<usize> {
    let mut ends = Vec::with_capacity(data.len() / width.max(1));
    let mut k = 0;
    for row in data.chunks_exact(width.max(1)) {
        // Eight pixels at a time: an all-zero group (most of an MNIST image's
        // border) is skipped with one test of a u64 (a short last group is
        // always scanned).
        for (g, group) in row.chunks(8).enumerate() {
            let word = <[u8; 8]>::try_from(group).map_or(1, u64::from_ne_bytes);
            if word == 0 {
                continue;
            }
            for (j, &v) in group.iter().enumerate() {
                // Branch-free: every pixel is written at `k`, which moves on
                // past the non-zero ones only. Past the last non-zero there
                // is no slot to write, and nothing to keep.
                if let (Some(c), Some(d)) = (cols.get_mut(k), vals.get_mut(k)) {
                    // `width <= 65536` was checked, so the column fits in a u16.
                    *c = (g * 8 + j) as u16;
                    *d = v;
                }
                k += usize::from(v != 0);
            }
        }
        ends.push(k);
    }
    ends
}

/// `f` of each part, in order: the first on the calling thread, the others on
/// threads of their own.
fn in_parallel<T: Send, R: Send>(parts: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    std::thread::scope(|s| {
        let f = &f;
        let mut parts = parts.into_iter();
        let first = parts.next();
        let handles: Vec<_> = parts.map(|p| s.spawn(move || f(p))).collect();
        let mut out: Vec<R> = first.map(f).into_iter().collect();
        out.extend(
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
        );
        out
    })
}

/// Number of non-zero bytes, counted in blocks the compiler vectorises.
fn count_nonzero(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|c| usize::from(c.iter().map(|&b| u8::from(b != 0)).sum::<u8>()))
        .sum()
}

/// A batch of rows of a [`SparseRows`]: the rows themselves (for the forward
/// pass) and the same non-zeros regrouped by column (for `dW = xᵀ dout`).
///
/// Its buffers are reused by [`gather`](Self::gather) from batch to batch.
#[derive(Debug, Clone, Default)]
pub struct SparseBatch {
    rows: SparseRows,
    /// Column `c`'s entries are `row_idx[colptr[c]..colptr[c + 1]]`.
    colptr: Vec<u32>,
    row_idx: Vec<u16>,
    vals: Vec<u8>,
    next: Vec<u32>,
    /// Whether the column index matches the rows (see `index_columns`).
    indexed: bool,
}

impl Default for SparseRows {
    fn default() -> Self {
        Self {
            width: 0,
            scale: 1.0,
            indptr: vec![0],
            cols: Vec::new(),
            vals: Vec::new(),
        }
    }
}

/// Most rows one [`SparseBatch`] holds (its row indices are u16).
const MAX_BATCH_ROWS: usize = 1 << 16;

impl SparseBatch {
    /// An empty batch; fill it with [`gather`](Self::gather).
    pub fn new() -> Self {
        Self::default()
    }

    /// The rows `rows` of `x` (any order, repeats allowed) as one batch.
    pub fn from_rows(x: &SparseRows, rows: &[usize]) -> Result<Self> {
        let mut batch = Self::new();
        batch.gather(x, rows)?;
        Ok(batch)
    }

    /// Replaces the contents with the rows `rows` of `x`, reusing the buffers,
    /// and groups their non-zeros by column for the backward pass.
    pub fn gather(&mut self, x: &SparseRows, rows: &[usize]) -> Result<()> {
        self.gather_rows(x, rows)?;
        self.index_columns();
        Ok(())
    }

    /// The first half of [`gather`](Self::gather): copies the rows `rows` of `x`.
    fn gather_rows(&mut self, x: &SparseRows, rows: &[usize]) -> Result<()> {
        x.check_rows(rows)?;
        if rows.len() > MAX_BATCH_ROWS {
            return Err(LayerError::Config(format!(
                "SparseBatch: {} rows exceed the maximum of {MAX_BATCH_ROWS}",
                rows.len()
            )));
        }
        let nnz: usize = rows.iter().map(|&r| x.indptr[r + 1] - x.indptr[r]).sum();
        if u32::try_from(nnz).is_err() {
            return Err(LayerError::Config(format!(
                "SparseBatch: {nnz} non-zeros exceed the u32 index"
            )));
        }
        // The rows, copied in batch order.
        let b = &mut self.rows;
        (b.width, b.scale) = (x.width, x.scale);
        b.indptr.clear();
        b.indptr.push(0);
        b.cols.clear();
        b.vals.clear();
        for &r in rows {
            let (cols, vals) = x.row(r);
            b.cols.extend_from_slice(cols);
            b.vals.extend_from_slice(vals);
            b.indptr.push(b.cols.len());
        }
        self.indexed = false;
        Ok(())
    }

    /// The second half of [`gather`](Self::gather): groups the batch's
    /// non-zeros by column (a counting sort), for the backward pass.
    fn index_columns(&mut self) {
        let b = &self.rows;
        let (width, nnz) = (b.width, b.cols.len());
        let (colptr, next) = (&mut self.colptr, &mut self.next);
        colptr.clear();
        colptr.resize(width + 1, 0);
        // `get_mut` rather than indexing in these loops: the same work without
        // a panic path per entry (measurably faster).
        for &c in &b.cols {
            if let Some(n) = colptr.get_mut(usize::from(c) + 1) {
                *n += 1;
            }
        }
        for c in 0..width {
            colptr[c + 1] += colptr[c];
        }
        next.clear();
        next.extend_from_slice(&colptr[..width]);
        // Locals, so the compiler knows the three arrays do not overlap.
        let next = &mut next[..];
        self.row_idx.resize(nnz, 0);
        self.vals.resize(nnz, 0);
        let (row_idx, vals_out) = (&mut self.row_idx[..], &mut self.vals[..]);
        self.indexed = true;
        for k in 0..b.nrows() {
            let (cols, vals) = b.row(k);
            for (&c, &v) in cols.iter().zip(vals) {
                if let Some(slot) = next.get_mut(usize::from(c)) {
                    let at = *slot as usize;
                    // `gather_rows` checked that rows fit in a u16 and non-zeros in a u32.
                    if let (Some(r), Some(d)) = (row_idx.get_mut(at), vals_out.get_mut(at)) {
                        *r = k as u16;
                        *d = v;
                    }
                    *slot += 1;
                }
            }
        }
    }

    /// Number of rows in the batch.
    pub fn nrows(&self) -> usize {
        self.rows.nrows()
    }

    /// Number of stored non-zeros.
    pub fn nnz(&self) -> usize {
        self.rows.nnz()
    }

    /// The whole batch, as [`SparseAffine`] reads it (forward and backward).
    pub fn view(&self) -> SparseView<'_> {
        SparseView {
            rows: &self.rows,
            start: 0,
            end: self.nrows(),
            batch: Some(self),
        }
    }

    /// `dW = xᵀ dout` from the non-zeros, and `db` = column sums of `dout`.
    ///
    /// # Shapes
    /// `dout: (rows, n)`, `dW: (width, n)`, `db: (n)`.
    fn affine_backward<F: Float>(
        &self,
        dout: ArrayView2<'_, F>,
        dw: &mut Array2<F>,
        db: &mut Array1<F>,
    ) -> Result<()> {
        let (rows, width, n) = (self.nrows(), self.rows.width, db.len());
        check_same_shape("sparse Affine backward (dout)", &[rows, n], &dout)?;
        check_same_shape("sparse Affine backward (dW)", &[width, n], &dw.view())?;
        if !self.indexed {
            return Err(LayerError::Config(
                "sparse Affine backward: the batch has no column index".into(),
            ));
        }
        let dout = dout.as_standard_layout();
        let csc = simd::Csc {
            colptr: &self.colptr,
            row_idx: &self.row_idx,
            vals: &self.vals,
            width: n,
        };
        let mut dw = dw.view_mut();
        simd::backward(
            &csc,
            F::of(self.rows.scale),
            slice(&dout)?,
            contiguous_mut(&mut dw)?,
        );
        db.assign(&dout.sum_axis(Axis(0)));
        Ok(())
    }
}

/// A batch of sparse rows as [`SparseAffine`] reads it: a whole
/// [`SparseBatch`] ([`SparseBatch::view`]), or a range of rows of a
/// [`SparseRows`] for the forward pass only ([`SparseRows::view`]).
#[derive(Debug, Clone, Copy)]
pub struct SparseView<'a> {
    rows: &'a SparseRows,
    start: usize,
    end: usize,
    /// The batch with its column index, which the backward pass needs.
    batch: Option<&'a SparseBatch>,
}

impl SparseView<'_> {
    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.end - self.start
    }
}

impl SparseRows {
    /// The rows `rows`, to predict them (a [`SparseBatch`] is needed to train).
    pub fn view(&self, rows: Range<usize>) -> Result<SparseView<'_>> {
        if rows.end > self.nrows() || rows.start > rows.end {
            return Err(LayerError::Core(CoreError::InvalidArgument {
                op: "SparseRows".into(),
                why: format!("rows {rows:?} out of range for {} rows", self.nrows()),
            }));
        }
        Ok(SparseView {
            rows: self,
            start: rows.start,
            end: rows.end,
            batch: None,
        })
    }
}

/// The first layer of a net for sparse inputs: [`Affine`]'s `x W + b` and its
/// gradients computed from the non-zeros of each row only. The same weights,
/// and the same numbers up to rounding (tests hold it to the dense layer).
#[derive(Debug, Clone)]
pub struct SparseAffine<F>(Affine<F>);

impl<F> From<Affine<F>> for SparseAffine<F> {
    fn from(affine: Affine<F>) -> Self {
        Self(affine)
    }
}

impl<F> From<SparseAffine<F>> for Affine<F> {
    fn from(layer: SparseAffine<F>) -> Self {
        layer.0
    }
}

impl<F: Float> InputLayer<F> for SparseAffine<F> {
    type Batch<'a> = SparseView<'a>;

    fn forward(&mut self, x: SparseView<'_>) -> Result<Array2<F>> {
        let a = &self.0;
        let mut out = Array2::zeros((x.nrows(), a.output_size()));
        check_same_shape(
            "sparse Affine forward (W)",
            &[x.rows.width, a.b.len()],
            &a.w.view(),
        )?;
        let w = a.w.as_standard_layout();
        let b = a.b.as_standard_layout();
        let b = b
            .as_slice()
            .ok_or_else(|| LayerError::Config("expected a contiguous bias".into()))?;
        let csr = simd::Csr {
            indptr: &x.rows.indptr[x.start..=x.end],
            cols: &x.rows.cols,
            vals: &x.rows.vals,
        };
        let mut view = out.view_mut();
        simd::forward(
            &csr,
            F::of(x.rows.scale),
            slice(&w)?,
            b,
            contiguous_mut(&mut view)?,
        );
        Ok(out)
    }

    fn backward(&mut self, x: SparseView<'_>, dout: ArrayView2<'_, F>) -> Result<()> {
        let batch = x.batch.ok_or_else(|| {
            LayerError::Config(
                "sparse Affine backward needs a SparseBatch (SparseBatch::view), not rows".into(),
            )
        })?;
        let Affine { dw, db, .. } = &mut self.0;
        batch.affine_backward(dout, dw, db)
    }

    fn affine(&self) -> &Affine<F> {
        &self.0
    }

    fn affine_mut(&mut self) -> &mut Affine<F> {
        &mut self.0
    }
}

/// Fraction of the entries of `x` that are non-zero: whether the sparse path pays.
pub fn density(x: ArrayView2<'_, u8>) -> f64 {
    let nonzero = match x.as_slice() {
        Some(s) => count_nonzero(s),
        None => x.iter().filter(|&&b| b != 0).count(),
    };
    nonzero as f64 / x.len().max(1) as f64
}

fn contiguous_mut<'a, F>(a: &'a mut ArrayViewMut2<'_, F>) -> Result<&'a mut [F]> {
    a.as_slice_mut()
        .ok_or_else(|| LayerError::Config("sparse Affine: output arrays must be contiguous".into()))
}

fn slice<'a, F>(a: &'a ndarray::CowArray<'_, F, ndarray::Ix2>) -> Result<&'a [F]> {
    a.as_slice()
        .ok_or_else(|| LayerError::Config("expected a contiguous array".into()))
}

/// The inner loops, compiled per instruction set and dispatched at run time.
mod simd {
    use bp_core::{simd_arch, Float};

    /// Rows as `(column, value)` lists: row `k` is `indptr[k]..indptr[k + 1]`.
    pub(super) struct Csr<'a> {
        pub indptr: &'a [usize],
        pub cols: &'a [u16],
        pub vals: &'a [u8],
    }

    /// Columns as `(row, value)` lists: column `c` is `colptr[c]..colptr[c + 1]`.
    pub(super) struct Csc<'a> {
        pub colptr: &'a [u32],
        pub row_idx: &'a [u16],
        pub vals: &'a [u8],
        /// Length of a row of `dout` and `dw`.
        pub width: usize,
    }

    /// `acc + a·x`: one rounding with `FUSED` (a fused multiply-add), two without.
    #[inline(always)]
    fn mul_add<F: Float, const FUSED: bool>(a: F, x: F, acc: F) -> F {
        if FUSED {
            a.mul_add(x, acc)
        } else {
            acc + a * x
        }
    }

    /// `out[k] = b + Σ scale·v · w[c]` over row `k`'s entries, summed in registers.
    #[inline(always)]
    fn forward_fixed<F: Float, const N: usize, const FUSED: bool>(
        x: &Csr<'_>,
        scale: F,
        w: &[F],
        b: &[F],
        out: &mut [F],
    ) {
        let Ok(b) = <&[F; N]>::try_from(b) else {
            return;
        };
        for (k, o) in out.chunks_exact_mut(N).enumerate() {
            let mut acc = *b;
            let entries = x.indptr[k]..x.indptr[k + 1];
            for (&c, &v) in x.cols[entries.clone()].iter().zip(&x.vals[entries]) {
                let a = F::of(f64::from(v)) * scale;
                let c = usize::from(c) * N;
                let Ok(w_row) = <&[F; N]>::try_from(&w[c..c + N]) else {
                    return;
                };
                for i in 0..N {
                    acc[i] = mul_add::<F, FUSED>(a, w_row[i], acc[i]);
                }
            }
            o.copy_from_slice(&acc);
        }
    }

    /// The same for any width, summing in `out` instead of registers.
    #[inline(always)]
    fn forward_any<F: Float, const FUSED: bool>(
        x: &Csr<'_>,
        scale: F,
        w: &[F],
        b: &[F],
        out: &mut [F],
    ) {
        let n = b.len();
        if n == 0 {
            return;
        }
        for (k, o) in out.chunks_exact_mut(n).enumerate() {
            o.copy_from_slice(b);
            let entries = x.indptr[k]..x.indptr[k + 1];
            for (&c, &v) in x.cols[entries.clone()].iter().zip(&x.vals[entries]) {
                let a = F::of(f64::from(v)) * scale;
                let c = usize::from(c) * n;
                for (o, &w) in o.iter_mut().zip(&w[c..c + n]) {
                    *o = mul_add::<F, FUSED>(a, w, *o);
                }
            }
        }
    }

    /// `W` laid out for the forward pass: the first `M` entries of each row (whole
    /// 64-byte cache lines) in rows that start on a line boundary, the last `T`
    /// in a compact array of their own, small enough to stay in L1. A non-zero
    /// then fetches `M / line` lines of `W` from L2 instead of one more: with
    /// MNIST's rows of 50 floats (200 bytes, always across 4 lines) 3 lines, and
    /// the forward is bound by those fetches (2.2 -> 1.8 ns per non-zero).
    struct SplitRows<F> {
        buf: Vec<F>,
        /// Where the first row starts in `buf`.
        lead: usize,
        tail: Vec<F>,
    }

    impl<F: Float> SplitRows<F> {
        fn new<const M: usize, const T: usize>(w: &[F]) -> Self {
            let per_line = (64 / std::mem::size_of::<F>()).max(1);
            let rows = w.len() / (M + T).max(1);
            let mut buf: Vec<F> = Vec::with_capacity(rows * M + per_line);
            // As in `aligned_rows`: the buffer never grows past its capacity.
            // (Not a helper shared with it: that made the backward 22.5 -> 23.6
            // µs in criterion, through the compiler's inlining.)
            let lead = match buf.as_ptr().align_offset(64) {
                o if o < per_line => o,
                _ => 0,
            };
            buf.resize(lead, F::zero());
            let mut tail = Vec::with_capacity(rows * T);
            for row in w.chunks_exact(M + T) {
                buf.extend_from_slice(&row[..M]);
                tail.extend_from_slice(&row[M..]);
            }
            Self { buf, lead, tail }
        }
    }

    /// [`forward_fixed`] for `N = M + T` on [`SplitRows`]: the same products in
    /// the same order, so the same bits.
    #[inline(always)]
    fn forward_split<F: Float, const M: usize, const T: usize, const FUSED: bool>(
        x: &Csr<'_>,
        scale: F,
        w: &[F],
        b: &[F],
        out: &mut [F],
    ) {
        let split = SplitRows::new::<M, T>(w);
        let (main, tail) = (&split.buf[split.lead..], &split.tail[..]);
        let (Ok(b_main), Ok(b_tail)) = (<&[F; M]>::try_from(&b[..M]), <&[F; T]>::try_from(&b[M..]))
        else {
            return;
        };
        for (k, o) in out.chunks_exact_mut(M + T).enumerate() {
            let (mut acc, mut acc_tail) = (*b_main, *b_tail);
            let entries = x.indptr[k]..x.indptr[k + 1];
            for (&c, &v) in x.cols[entries.clone()].iter().zip(&x.vals[entries]) {
                let a = F::of(f64::from(v)) * scale;
                let c = usize::from(c);
                let (Ok(w_main), Ok(w_tail)) = (
                    <&[F; M]>::try_from(&main[c * M..c * M + M]),
                    <&[F; T]>::try_from(&tail[c * T..c * T + T]),
                ) else {
                    return;
                };
                for i in 0..M {
                    acc[i] = mul_add::<F, FUSED>(a, w_main[i], acc[i]);
                }
                for i in 0..T {
                    acc_tail[i] = mul_add::<F, FUSED>(a, w_tail[i], acc_tail[i]);
                }
            }
            o[..M].copy_from_slice(&acc);
            o[M..].copy_from_slice(&acc_tail);
        }
    }

    /// `dout`'s rows (of `n` entries) copied into rows that start on a 64-byte
    /// boundary: a vector load that straddles two cache lines costs about two.
    /// For MNIST's rows of 50 floats (200 bytes) the copy costs less than it
    /// saves. Returns the buffer, where its rows start, and their stride.
    fn aligned_rows<F: Float>(dout: &[F], n: usize) -> (Vec<F>, usize, usize) {
        let per_line = (64 / std::mem::size_of::<F>()).max(1);
        let stride = n.div_ceil(per_line) * per_line;
        let rows = dout.len() / n.max(1);
        let mut buf: Vec<F> = Vec::with_capacity(rows * stride + per_line);
        // The offset of the first 64-byte boundary inside the allocation; the
        // rows stay where they are, as the buffer never grows past its capacity.
        let lead = match buf.as_ptr().align_offset(64) {
            o if o < per_line => o,
            _ => 0,
        };
        buf.resize(lead, F::zero());
        for row in dout.chunks_exact(n.max(1)) {
            buf.extend_from_slice(row);
            buf.resize(buf.len() + stride - n, F::zero());
        }
        (buf, lead, stride)
    }

    /// `dw[c] = Σ scale·v · dout[k]` over column `c`'s entries, summed in registers.
    #[inline(always)]
    fn backward_fixed<F: Float, const N: usize, const FUSED: bool>(
        x: &Csc<'_>,
        scale: F,
        dout: &[F],
        dw: &mut [F],
    ) {
        let (buf, lead, stride) = aligned_rows(dout, N);
        let dout = &buf[lead..];
        for (c, dw_row) in dw.chunks_exact_mut(N).enumerate() {
            let mut acc = [F::zero(); N];
            let entries = x.colptr[c] as usize..x.colptr[c + 1] as usize;
            for (&k, &v) in x.row_idx[entries.clone()].iter().zip(&x.vals[entries]) {
                let a = F::of(f64::from(v)) * scale;
                let k = usize::from(k) * stride;
                let Ok(d) = <&[F; N]>::try_from(&dout[k..k + N]) else {
                    return;
                };
                for i in 0..N {
                    acc[i] = mul_add::<F, FUSED>(a, d[i], acc[i]);
                }
            }
            dw_row.copy_from_slice(&acc);
        }
    }

    /// The same for any width, summing in `dw` instead of registers.
    #[inline(always)]
    fn backward_any<F: Float, const FUSED: bool>(x: &Csc<'_>, scale: F, dout: &[F], dw: &mut [F]) {
        let n = x.width;
        if n == 0 {
            return;
        }
        for (c, dw_row) in dw.chunks_exact_mut(n).enumerate() {
            dw_row.fill(F::zero());
            let entries = x.colptr[c] as usize..x.colptr[c + 1] as usize;
            for (&k, &v) in x.row_idx[entries.clone()].iter().zip(&x.vals[entries]) {
                let a = F::of(f64::from(v)) * scale;
                let k = usize::from(k) * n;
                for (g, &d) in dw_row.iter_mut().zip(&dout[k..k + n]) {
                    *g = mul_add::<F, FUSED>(a, d, *g);
                }
            }
        }
    }

    /// Picks the fixed-width kernel for the common widths, the general one otherwise.
    macro_rules! by_width {
        ($n:expr, $fused:ident, $fixed:ident, $any:ident, ($($arg:expr),*)) => {
            match $n {
                10 => $fixed::<F, 10, $fused>($($arg),*),
                16 => $fixed::<F, 16, $fused>($($arg),*),
                20 => $fixed::<F, 20, $fused>($($arg),*),
                32 => $fixed::<F, 32, $fused>($($arg),*),
                50 => $fixed::<F, 50, $fused>($($arg),*),
                64 => $fixed::<F, 64, $fused>($($arg),*),
                100 => $fixed::<F, 100, $fused>($($arg),*),
                128 => $fixed::<F, 128, $fused>($($arg),*),
                _ => $any::<F, $fused>($($arg),*),
            }
        };
    }

    /// Whether laying `W` out as [`SplitRows`] first pays: for at least a third
    /// as many non-zeros as `W` has entries. Measured on MNIST (`W` 784 x 50):
    /// a batch of 100 images is faster with the copy, half a batch slower.
    fn split_pays<F>(x: &Csr<'_>, w: &[F]) -> bool {
        let nnz = match (x.indptr.first(), x.indptr.last()) {
            (Some(&first), Some(&last)) => last - first,
            _ => 0,
        };
        nnz * 3 >= w.len()
    }

    #[inline(always)]
    fn forward_impl<F: Float, const FUSED: bool>(
        x: &Csr<'_>,
        scale: F,
        w: &[F],
        b: &[F],
        out: &mut [F],
    ) {
        if split_pays(x, w) {
            // (whole lines, the rest) of the common widths, for f32 and f64.
            let per_line = 64 / std::mem::size_of::<F>();
            let lines = b.len() / per_line * per_line;
            match (lines, b.len() - lines) {
                (48, 2) => return forward_split::<F, 48, 2, FUSED>(x, scale, w, b, out),
                (96, 4) => return forward_split::<F, 96, 4, FUSED>(x, scale, w, b, out),
                (16, 4) => return forward_split::<F, 16, 4, FUSED>(x, scale, w, b, out),
                (8, 2) => return forward_split::<F, 8, 2, FUSED>(x, scale, w, b, out),
                // Whole lines already: aligned, a row of `W` fetches one line
                // less when `W` itself does not start on a line boundary.
                (16, 0) => return forward_split::<F, 16, 0, FUSED>(x, scale, w, b, out),
                (32, 0) => return forward_split::<F, 32, 0, FUSED>(x, scale, w, b, out),
                (64, 0) => return forward_split::<F, 64, 0, FUSED>(x, scale, w, b, out),
                (128, 0) => return forward_split::<F, 128, 0, FUSED>(x, scale, w, b, out),
                _ => {}
            }
        }
        forward_rows::<F, FUSED>(x, scale, w, b, out)
    }

    /// The row kernels on `W` as it is, without [`SplitRows`].
    #[inline(always)]
    fn forward_rows<F: Float, const FUSED: bool>(
        x: &Csr<'_>,
        scale: F,
        w: &[F],
        b: &[F],
        out: &mut [F],
    ) {
        by_width!(
            b.len(),
            FUSED,
            forward_fixed,
            forward_any,
            (x, scale, w, b, out)
        )
    }

    #[inline(always)]
    fn backward_impl<F: Float, const FUSED: bool>(x: &Csc<'_>, scale: F, dout: &[F], dw: &mut [F]) {
        by_width!(
            x.width,
            FUSED,
            backward_fixed,
            backward_any,
            (x, scale, dout, dw)
        )
    }

    /// Whether [`simd_arch`] has fused multiply-adds (x86's AVX2 and AVX-512 sets,
    /// ARM's NEON). The kernels use them where it does: one rounding per term,
    /// and MNIST's forward and backward faster. The baseline rounds
    /// each product first, as `mul_add` without FMA is a slow library call, so
    /// its sums can differ from the SIMD sets' in the last bits.
    fn fused() -> bool {
        !matches!(simd_arch(), pulp::Arch::Scalar)
            && cfg!(any(
                target_arch = "x86",
                target_arch = "x86_64",
                target_arch = "aarch64"
            ))
    }

    /// `out = b + x W` for the rows of `x`, compiled for [`simd_arch`]'s instruction
    /// set: pulp calls `with_simd` inside a function built for that set, and
    /// everything below it is `inline(always)`, so the kernel is vectorised for it.
    pub(super) fn forward<F: Float>(x: &Csr<'_>, scale: F, w: &[F], b: &[F], out: &mut [F]) {
        struct Op<'a, F> {
            x: &'a Csr<'a>,
            scale: F,
            w: &'a [F],
            b: &'a [F],
            out: &'a mut [F],
        }
        impl<F: Float> pulp::WithSimd for Op<'_, F> {
            type Output = ();
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, _: S) {
                forward_impl::<F, true>(self.x, self.scale, self.w, self.b, self.out)
            }
        }
        if fused() {
            simd_arch().dispatch(Op {
                x,
                scale,
                w,
                b,
                out,
            })
        } else {
            forward_impl::<F, false>(x, scale, w, b, out)
        }
    }

    /// `dW = xᵀ dout` for the columns of `x`, dispatched as [`forward`].
    pub(super) fn backward<F: Float>(x: &Csc<'_>, scale: F, dout: &[F], dw: &mut [F]) {
        struct Op<'a, F> {
            x: &'a Csc<'a>,
            scale: F,
            dout: &'a [F],
            dw: &'a mut [F],
        }
        impl<F: Float> pulp::WithSimd for Op<'_, F> {
            type Output = ();
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, _: S) {
                backward_impl::<F, true>(self.x, self.scale, self.dout, self.dw)
            }
        }
        if fused() {
            simd_arch().dispatch(Op { x, scale, dout, dw })
        } else {
            backward_impl::<F, false>(x, scale, dout, dw)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// Rows of `width` with every third entry zero, as both forms.
        fn case(rows: usize, width: usize) -> (Vec<usize>, Vec<u16>, Vec<u8>, Vec<Vec<f64>>) {
            let (mut indptr, mut cols, mut vals) = (vec![0], vec![], vec![]);
            let mut dense = vec![vec![0.0; width]; rows];
            for (k, row) in dense.iter_mut().enumerate() {
                for (c, d) in row.iter_mut().enumerate() {
                    let v = ((k * 31 + c * 17) % 256) as u8;
                    if (k + c) % 3 != 0 && v != 0 {
                        cols.push(c as u16);
                        vals.push(v);
                        *d = f64::from(v) / 255.0;
                    }
                }
                indptr.push(cols.len());
            }
            (indptr, cols, vals, dense)
        }

        fn close(a: &[f64], b: &[f64]) -> bool {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| (x - y).abs() <= 1e-12 * (1.0 + y.abs()))
        }

        #[test]
        fn fused_and_unfused_kernels_give_the_products() {
            // 50 and 16 take the fixed-width kernels, 7 the general ones.
            for (rows, width, n) in [(9, 40, 50), (5, 33, 16), (6, 20, 7)] {
                let (indptr, cols, vals, dense) = case(rows, width);
                let w: Vec<f64> = (0..width * n)
                    .map(|i| ((i * 37 % 101) as f64 - 50.0) / 50.0)
                    .collect();
                let b: Vec<f64> = (0..n).map(|i| i as f64 / 10.0).collect();
                let dout: Vec<f64> = (0..rows * n)
                    .map(|i| ((i * 13 % 29) as f64 - 14.0) / 7.0)
                    .collect();
                let mut expected_out = vec![0.0; rows * n];
                let mut expected_dw = vec![0.0; width * n];
                for k in 0..rows {
                    for j in 0..n {
                        expected_out[k * n + j] =
                            b[j] + (0..width).map(|c| dense[k][c] * w[c * n + j]).sum::<f64>();
                    }
                }
                for c in 0..width {
                    for j in 0..n {
                        expected_dw[c * n + j] =
                            (0..rows).map(|k| dense[k][c] * dout[k * n + j]).sum();
                    }
                }
                let csr = Csr {
                    indptr: &indptr,
                    cols: &cols,
                    vals: &vals,
                };
                let mut colptr = vec![0u32; width + 1];
                let (mut row_idx, mut cvals) = (vec![], vec![]);
                for c in 0..width {
                    for k in 0..rows {
                        if let Some(at) =
                            (indptr[k]..indptr[k + 1]).find(|&e| usize::from(cols[e]) == c)
                        {
                            row_idx.push(k as u16);
                            cvals.push(vals[at]);
                        }
                    }
                    colptr[c + 1] = row_idx.len() as u32;
                }
                let csc = Csc {
                    colptr: &colptr,
                    row_idx: &row_idx,
                    vals: &cvals,
                    width: n,
                };
                let scale = 1.0 / 255.0;
                let (mut out, mut dw) = (vec![0.0; rows * n], vec![9.0; width * n]);
                forward_impl::<f64, true>(&csr, scale, &w, &b, &mut out);
                backward_impl::<f64, true>(&csc, scale, &dout, &mut dw);
                assert!(close(&out, &expected_out), "fused forward, n = {n}");
                assert!(close(&dw, &expected_dw), "fused backward, n = {n}");
                let (mut out, mut dw) = (vec![0.0; rows * n], vec![9.0; width * n]);
                forward_impl::<f64, false>(&csr, scale, &w, &b, &mut out);
                backward_impl::<f64, false>(&csc, scale, &dout, &mut dw);
                assert!(close(&out, &expected_out), "unfused forward, n = {n}");
                assert!(close(&dw, &expected_dw), "unfused backward, n = {n}");
            }
        }

        fn split_gives_the_same_bits<F: Float>(to_bits: fn(F) -> u64) {
            let (rows, width) = (120, 40);
            let (indptr, cols, vals, _) = case(rows, width);
            let csr = Csr {
                indptr: &indptr,
                cols: &cols,
                vals: &vals,
            };
            let scale = F::of(1.0 / 255.0);
            let mut split_widths = 0;
            for n in [10, 16, 20, 32, 50, 64, 100, 128] {
                let w: Vec<F> = (0..width * n)
                    .map(|i| F::of(((i * 37 % 101) as f64 - 50.0) / 37.0))
                    .collect();
                let b: Vec<F> = (0..n).map(|i| F::of(i as f64 / 10.0)).collect();
                assert!(split_pays(&csr, &w), "n = {n}: the case is large enough");
                let per_line = 64 / std::mem::size_of::<F>();
                split_widths += usize::from(n >= per_line);
                let (mut out, mut expected) = (vec![F::zero(); rows * n], vec![F::one(); rows * n]);
                forward_impl::<F, true>(&csr, scale, &w, &b, &mut out);
                forward_rows::<F, true>(&csr, scale, &w, &b, &mut expected);
                let bits = |v: &[F]| v.iter().map(|&x| to_bits(x)).collect::<Vec<_>>();
                assert_eq!(bits(&out), bits(&expected), "fused, n = {n}");
                forward_impl::<F, false>(&csr, scale, &w, &b, &mut out);
                forward_rows::<F, false>(&csr, scale, &w, &b, &mut expected);
                assert_eq!(bits(&out), bits(&expected), "unfused, n = {n}");
            }
            assert!(split_widths >= 6);
        }

        #[test]
        fn split_rows_give_the_row_kernels_bits() {
            split_gives_the_same_bits::<f32>(|x| u64::from(x.to_bits()));
            split_gives_the_same_bits::<f64>(f64::to_bits);
        }

        #[test]
        fn split_rows_start_on_64_bytes_and_keep_the_values() {
            let w: Vec<f32> = (0..7 * 50).map(|i| i as f32).collect();
            let split = SplitRows::new::<48, 2>(&w);
            let main = &split.buf[split.lead..];
            assert_eq!(main.as_ptr().align_offset(64), 0);
            for (c, row) in w.chunks_exact(50).enumerate() {
                assert_eq!(main[c * 48..(c + 1) * 48], row[..48]);
                assert_eq!(split.tail[c * 2..(c + 1) * 2], row[48..]);
            }
        }

        #[test]
        fn aligned_rows_start_on_64_bytes_and_keep_the_values() {
            for n in [1, 7, 16, 50] {
                let dout: Vec<f32> = (0..3 * n).map(|i| i as f32).collect();
                let (buf, lead, stride) = aligned_rows(&dout, n);
                assert_eq!(buf[lead..].as_ptr().align_offset(64), 0);
                assert_eq!(stride % 16, 0);
                assert!(stride >= n);
                for k in 0..3 {
                    assert_eq!(
                        buf[lead + k * stride..lead + k * stride + n],
                        dout[k * n..(k + 1) * n]
                    );
                }
            }
        }
    }
}
