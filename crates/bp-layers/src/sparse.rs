//! The fast path for sparse inputs: the first [`Affine`](crate::Affine) layer's
//! products computed from the non-zeros only.
//!
//! MNIST pixels are about 81% zeros. With each input row kept as a list of
//! `(column, value)` pairs ([`SparseRows`]), `x W` gathers one row of `W` per
//! non-zero and `dW = xᵀ dout` scatters into the same rows: the same mathematics
//! as the dense products, about a fifth of the work. The rest of the net runs
//! through the book's layers unchanged ([`MultiLayerNet::loss_after_first`] and
//! [`MultiLayerNet::backward_to_first`]); tests check both paths agree.
//!
//! The two inner loops (`h += a * w_row`) are compiled three times, for AVX-512,
//! AVX2+FMA and the baseline, and picked at run time: without that the default
//! x86-64 target is SSE2 only. That dispatch is the crate's only `unsafe`.

use std::ops::Range;

use bp_core::{argmax, check_same_shape, CoreError, Float, Targets};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

use crate::{LayerError, MultiLayerNet, Result};

/// Rows of a `u8` matrix as `(column, value)` lists of their non-zeros, read as
/// `value * scale` (e.g. `1/255` for normalised pixels).
///
/// A compact form: 3 bytes per non-zero (MNIST's 70000 images take about 32 MB).
#[derive(Debug, Clone)]
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
        let (rows, width) = x.dim();
        if width > usize::from(u16::MAX) + 1 {
            return Err(LayerError::Config(format!(
                "SparseRows: rows of width {width} exceed the 65536 columns a u16 index holds"
            )));
        }
        let nnz = x.iter().filter(|&&v| v != 0).count();
        let (mut cols, mut vals) = (Vec::with_capacity(nnz), Vec::with_capacity(nnz));
        let mut indptr = Vec::with_capacity(rows + 1);
        indptr.push(0);
        for row in x.rows() {
            for (j, &v) in row.iter().enumerate() {
                if v != 0 {
                    // `width <= 65536` was checked above, so `j` fits in a u16.
                    cols.push(j as u16);
                    vals.push(v);
                }
            }
            indptr.push(cols.len());
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

/// `out[k, :] = b + x[rows[k], :] W` from the non-zeros of each row.
///
/// # Shapes
/// `W: (x.width(), n)`, `b: (n)`, `out: (rows.len(), n)`.
pub fn sparse_affine_forward<F: Float>(
    x: &SparseRows,
    rows: &[usize],
    w: ArrayView2<'_, F>,
    b: ArrayView1<'_, F>,
    out: &mut Array2<F>,
) -> Result<()> {
    x.check_rows(rows)?;
    check_same_shape("sparse Affine forward (W)", &[x.width, b.len()], &w)?;
    check_same_shape(
        "sparse Affine forward (out)",
        &[rows.len(), b.len()],
        &out.view(),
    )?;
    let w = w.as_standard_layout();
    let (w, b) = (slice(&w)?, b.to_vec());
    let out_slice = out.as_slice_mut().ok_or_else(|| {
        LayerError::Config("sparse Affine forward: out must be contiguous".into())
    })?;
    simd::gather(x, rows, w, &b, out_slice);
    Ok(())
}

/// `dW = x[rows]ᵀ dout` from the non-zeros, and `db` = column sums of `dout`.
///
/// # Shapes
/// `dout: (rows.len(), n)`, `dW: (x.width(), n)`, `db: (n)`.
pub fn sparse_affine_backward<F: Float>(
    x: &SparseRows,
    rows: &[usize],
    dout: ArrayView2<'_, F>,
    dw: &mut Array2<F>,
    db: &mut Array1<F>,
) -> Result<()> {
    x.check_rows(rows)?;
    check_same_shape(
        "sparse Affine backward (dout)",
        &[rows.len(), db.len()],
        &dout,
    )?;
    check_same_shape(
        "sparse Affine backward (dW)",
        &[x.width, db.len()],
        &dw.view(),
    )?;
    let dout = dout.as_standard_layout();
    let dw_slice = dw.as_slice_mut().ok_or_else(|| {
        LayerError::Config("sparse Affine backward: dW must be contiguous".into())
    })?;
    dw_slice.fill(F::zero());
    simd::scatter(x, rows, slice(&dout)?, dw_slice);
    db.assign(&dout.sum_axis(Axis(0)));
    Ok(())
}

fn slice<'a, F>(a: &'a ndarray::CowArray<'_, F, ndarray::Ix2>) -> Result<&'a [F]> {
    a.as_slice()
        .ok_or_else(|| LayerError::Config("expected a contiguous array".into()))
}

/// Loss and gradients of `net` on the rows `rows` of `x`, with the first layer's
/// products done sparsely; the gradients are left in the layers as by
/// [`MultiLayerNet::backprop`], which gives the same values up to rounding.
pub fn sparse_backprop<F: Float>(
    net: &mut MultiLayerNet<F>,
    x: &SparseRows,
    rows: &[usize],
    t: Targets<'_, F>,
) -> Result<F> {
    let first = &net.affines()[0];
    let mut h1 = Array2::zeros((rows.len(), first.output_size()));
    sparse_affine_forward(x, rows, first.w.view(), first.b.view(), &mut h1)?;
    let loss = net.loss_after_first(h1, t)?;
    let dh1 = net.backward_to_first()?;
    let first = &mut net.affines_mut()[0];
    sparse_affine_backward(x, rows, dh1.view(), &mut first.dw, &mut first.db)?;
    Ok(loss)
}

/// Class scores for the rows `rows` of `x`, the first layer done sparsely.
pub fn sparse_predict<F: Float>(
    net: &MultiLayerNet<F>,
    x: &SparseRows,
    rows: Range<usize>,
) -> Result<Array2<F>> {
    let first = &net.affines()[0];
    let idx: Vec<usize> = rows.collect();
    let mut h1 = Array2::zeros((idx.len(), first.output_size()));
    sparse_affine_forward(x, &idx, first.w.view(), first.b.view(), &mut h1)?;
    net.predict_after_first(h1)
}

/// Rows per evaluation chunk: small enough that a chunk's hidden activations stay in L1.
const EVAL_CHUNK: usize = 128;

/// Fraction of all rows of `x` whose predicted class is `labels[row]`, on
/// `threads` threads (chunks of 128 rows).
pub fn sparse_accuracy<F: Float, L: Copy + Into<usize> + Sync>(
    net: &MultiLayerNet<F>,
    x: &SparseRows,
    labels: &[L],
    threads: usize,
) -> Result<f64> {
    let n = x.nrows();
    if labels.len() != n {
        return Err(LayerError::Core(CoreError::Shape {
            op: "sparse_accuracy".into(),
            expected: format!("[{n}] labels"),
            got: labels.len().to_string(),
        }));
    }
    if n == 0 {
        return Err(LayerError::Core(CoreError::EmptyBatch {
            op: "sparse_accuracy".into(),
        }));
    }
    let count = |range: Range<usize>| -> Result<usize> {
        let mut correct = 0;
        let mut start = range.start;
        while start < range.end {
            let end = (start + EVAL_CHUNK).min(range.end);
            let scores = sparse_predict(net, x, start..end)?;
            for (row, label) in scores.rows().into_iter().zip(&labels[start..end]) {
                correct += usize::from(argmax(row) == (*label).into());
            }
            start = end;
        }
        Ok(correct)
    };
    let threads = threads.clamp(1, n.div_ceil(EVAL_CHUNK));
    let per = n.div_ceil(threads);
    let correct = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let range = (k * per).min(n)..((k + 1) * per).min(n);
                s.spawn(move || count(range))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .sum::<Result<usize>>()
    })?;
    Ok(correct as f64 / n as f64)
}

/// The inner loops, compiled per instruction set and dispatched at run time.
mod simd {
    use super::SparseRows;
    use bp_core::Float;

    /// `y += a * x`, written so that the compiler vectorises it.
    #[inline(always)]
    fn axpy<F: Float>(y: &mut [F], a: F, x: &[F]) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y += a * x;
        }
    }

    #[inline(always)]
    fn gather_impl<F: Float>(x: &SparseRows, rows: &[usize], w: &[F], b: &[F], out: &mut [F]) {
        let n = b.len();
        let scale = F::of(x.scale);
        for (&r, h) in rows.iter().zip(out.chunks_exact_mut(n)) {
            h.copy_from_slice(b);
            let (cols, vals) = x.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                let c = usize::from(c);
                axpy(h, F::of(f64::from(v)) * scale, &w[c * n..(c + 1) * n]);
            }
        }
    }

    #[inline(always)]
    fn scatter_impl<F: Float>(x: &SparseRows, rows: &[usize], dout: &[F], dw: &mut [F]) {
        let n = dw.len() / x.width.max(1);
        let scale = F::of(x.scale);
        for (&r, d) in rows.iter().zip(dout.chunks_exact(n)) {
            let (cols, vals) = x.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                let c = usize::from(c);
                axpy(&mut dw[c * n..(c + 1) * n], F::of(f64::from(v)) * scale, d);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    fn gather_avx512<F: Float>(x: &SparseRows, rows: &[usize], w: &[F], b: &[F], out: &mut [F]) {
        gather_impl(x, rows, w, b, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn gather_avx2<F: Float>(x: &SparseRows, rows: &[usize], w: &[F], b: &[F], out: &mut [F]) {
        gather_impl(x, rows, w, b, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    fn scatter_avx512<F: Float>(x: &SparseRows, rows: &[usize], dout: &[F], dw: &mut [F]) {
        scatter_impl(x, rows, dout, dw)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn scatter_avx2<F: Float>(x: &SparseRows, rows: &[usize], dout: &[F], dw: &mut [F]) {
        scatter_impl(x, rows, dout, dw)
    }

    /// The best instruction set this CPU has, detected once.
    #[cfg(target_arch = "x86_64")]
    fn level() -> u8 {
        use std::sync::OnceLock;
        static LEVEL: OnceLock<u8> = OnceLock::new();
        *LEVEL.get_or_init(|| {
            if std::env::var_os("BP_NO_SIMD").is_some() {
                0
            } else if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
            {
                2
            } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                1
            } else {
                0
            }
        })
    }

    /// `out[k] = b + Σ value * W[col]` over the non-zeros of row `rows[k]`.
    #[allow(unsafe_code)]
    pub(super) fn gather<F: Float>(
        x: &SparseRows,
        rows: &[usize],
        w: &[F],
        b: &[F],
        out: &mut [F],
    ) {
        #[cfg(target_arch = "x86_64")]
        match level() {
            // SAFETY: `level()` checked at run time that the CPU has these features.
            2 => return unsafe { gather_avx512(x, rows, w, b, out) },
            // SAFETY: as above.
            1 => return unsafe { gather_avx2(x, rows, w, b, out) },
            _ => {}
        }
        gather_impl(x, rows, w, b, out)
    }

    /// `dW[col] += value * dout[k]` over the non-zeros of row `rows[k]`.
    #[allow(unsafe_code)]
    pub(super) fn scatter<F: Float>(x: &SparseRows, rows: &[usize], dout: &[F], dw: &mut [F]) {
        #[cfg(target_arch = "x86_64")]
        match level() {
            // SAFETY: `level()` checked at run time that the CPU has these features.
            2 => return unsafe { scatter_avx512(x, rows, dout, dw) },
            // SAFETY: as above.
            1 => return unsafe { scatter_avx2(x, rows, dout, dw) },
            _ => {}
        }
        scatter_impl(x, rows, dout, dw)
    }
}
