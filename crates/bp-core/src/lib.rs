//! Tensor helpers for backpropagation, on [`ndarray`], generic over `f32` and `f64`.
//!
//! This crate holds the functions of chapters 3-5 of *Deep Learning from Scratch*
//! that the layers build on: a numerically stable row-wise [`softmax`], the
//! cross-entropy losses, [`sigmoid`] and [`relu`], [`argmax_rows`], [`one_hot`],
//! seeded weight initialisation ([`init_normal`]) and the central-difference
//! [`numerical_gradient`] used to check backprop, plus the matrix product the
//! layers use ([`matmul`], by the `gemm` crate, faster than ndarray's `dot` on
//! the book's shapes).
//! It knows nothing of files, data sets or plots.
//!
//! ```
//! use bp_core::{cross_entropy_from_logits, softmax, Targets};
//! use ndarray::array;
//!
//! let logits = array![[1000.0_f64, 1001.0, 1002.0], [0.0, 0.0, 0.0]];
//! let y = softmax(logits.view());
//! assert!((y.row(1).sum() - 1.0).abs() < 1e-12);
//! assert!(y.iter().all(|p| p.is_finite()));
//!
//! // Mean cross-entropy over the batch, from logits, for class-index targets.
//! let loss = cross_entropy_from_logits(logits.view(), Targets::Labels(&[2, 0])).unwrap();
//! let expected = ((-(y[[0, 2]]).ln()) + (3.0_f64).ln()) / 2.0;
//! assert!((loss - expected).abs() < 1e-9);
//! ```

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use ndarray::{Array, Array1, Array2, ArrayView1, ArrayView2, Axis, Dimension, ScalarOperand};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

mod exp;
mod matmul;

// The third-party crates whose items stand in this crate's public signatures,
// re-exported so a caller names the very versions bp-core was built with.

/// The arrays every function takes and returns.
pub use ndarray;
/// [`simd_arch`] returns a [`pulp::Arch`]: the workspace's vectorised kernels
/// dispatch through this one detection.
pub use pulp;
/// [`init_normal`] and [`Float::sample_standard_normal`] draw from a [`rand::Rng`].
pub use rand;

/// The instruction set the project's vectorised loops are dispatched to (by
/// [`pulp`]): the best this CPU has (AVX-512, AVX2+FMA, or the baseline),
/// detected once. To run a kernel on the baseline, dispatch through
/// [`pulp::Arch::Scalar`] instead.
pub fn simd_arch() -> pulp::Arch {
    use std::sync::OnceLock;
    static ARCH: OnceLock<pulp::Arch> = OnceLock::new();
    *ARCH.get_or_init(pulp::Arch::new)
}
pub use matmul::{matmul, matmul_into};

/// Errors a caller can cause: shape mismatches, empty batches, labels out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoreError {
    /// Two arrays whose shapes must agree do not.
    #[error("{op}: shape mismatch: expected {expected}, got {got}")]
    Shape {
        /// The operation or layer that found the mismatch.
        op: String,
        /// What the operation needed, e.g. `[3, 784]` or `[_, 784]`.
        expected: String,
        /// What it was given.
        got: String,
    },
    /// An operation that needs at least one row was given none.
    #[error("{op}: empty batch")]
    EmptyBatch {
        /// The operation that found the empty batch.
        op: String,
    },
    /// A class label is not below the number of classes.
    #[error("{op}: label {label} at row {row} is out of range for {classes} classes")]
    LabelOutOfRange {
        /// The operation that found it.
        op: String,
        /// The offending label.
        label: usize,
        /// Its row in the batch.
        row: usize,
        /// The number of classes.
        classes: usize,
    },
    /// A parameter such as a standard deviation is not valid.
    #[error("{op}: invalid argument: {why}")]
    InvalidArgument {
        /// The operation that rejected it.
        op: String,
        /// Why it was rejected.
        why: String,
    },
}

/// Result type of this crate.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// The float types the whole project computes in: `f32` and `f64`.
pub trait Float:
    num_traits::Float
    + num_traits::FromPrimitive
    + ndarray::LinalgScalar
    + ScalarOperand
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + Debug
    + Display
    + Default
    + Send
    + Sync
    + 'static
{
    /// The safetensors-style name of the type: `"F32"` or `"F64"`.
    const DTYPE: &'static str;

    /// Converts from `f64` (rounding for `f32`).
    fn of(v: f64) -> Self;

    /// Converts to `f64` (exact).
    fn to_f64_exact(self) -> f64;

    /// Draws one standard normal sample.
    fn sample_standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self;

    /// Replaces every element of `xs` by its exponential (the exponentials of
    /// [`softmax_cross_entropy`]). `f32` computes them vectorised, within 1 ulp
    /// (below -87.3 it gives the smallest normal float, above 88 +inf); other
    /// types call `exp` per element.
    fn exp_in_place(xs: &mut [Self]) {
        for x in xs {
            *x = x.exp();
        }
    }
}

impl Float for f32 {
    const DTYPE: &'static str = "F32";
    fn of(v: f64) -> Self {
        v as f32
    }
    fn to_f64_exact(self) -> f64 {
        f64::from(self)
    }
    fn sample_standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self {
        StandardNormal.sample(rng)
    }
    fn exp_in_place(xs: &mut [Self]) {
        exp::exp_in_place(xs);
    }
}

impl Float for f64 {
    const DTYPE: &'static str = "F64";
    fn of(v: f64) -> Self {
        v
    }
    fn to_f64_exact(self) -> f64 {
        self
    }
    fn sample_standard_normal<R: Rng + ?Sized>(rng: &mut R) -> Self {
        StandardNormal.sample(rng)
    }
}

/// Training targets: class indices (`t.ndim == 1` in the book) or one-hot rows.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a, F> {
    /// One class index per row.
    Labels(&'a [usize]),
    /// One one-hot (or any probability) row per row.
    OneHot(ArrayView2<'a, F>),
}

impl<F: Float> Targets<'_, F> {
    /// Number of rows (examples).
    pub fn len(&self) -> usize {
        match self {
            Targets::Labels(l) => l.len(),
            Targets::OneHot(t) => t.nrows(),
        }
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the targets against a `(batch, classes)` score matrix.
    pub fn check(&self, op: &str, batch: usize, classes: usize) -> Result<()> {
        if batch == 0 {
            return Err(CoreError::EmptyBatch { op: op.into() });
        }
        match self {
            Targets::Labels(labels) => {
                if labels.len() != batch {
                    return Err(shape_err(op, format!("[{batch}] labels"), labels.len()));
                }
                if let Some((row, &label)) = labels.iter().enumerate().find(|(_, &l)| l >= classes)
                {
                    return Err(CoreError::LabelOutOfRange {
                        op: op.into(),
                        label,
                        row,
                        classes,
                    });
                }
            }
            Targets::OneHot(t) => {
                if t.dim() != (batch, classes) {
                    return Err(shape_err(
                        op,
                        format!("[{batch}, {classes}]"),
                        format!("{:?}", t.shape()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The class of each row (argmax for one-hot rows).
    pub fn classes(&self) -> Vec<usize> {
        match self {
            Targets::Labels(l) => l.to_vec(),
            Targets::OneHot(t) => argmax_rows(*t),
        }
    }
}

fn shape_err(op: &str, expected: impl Display, got: impl Display) -> CoreError {
    CoreError::Shape {
        op: op.into(),
        expected: expected.to_string(),
        got: got.to_string(),
    }
}

/// Checks that `x` is `(rows, width)` with at least one row; names `op` in the error.
pub fn check_width<F>(op: &str, x: &ArrayView2<'_, F>, width: usize) -> Result<()> {
    if x.nrows() == 0 {
        return Err(CoreError::EmptyBatch { op: op.into() });
    }
    if x.ncols() != width {
        return Err(shape_err(
            op,
            format!("[_, {width}]"),
            format!("{:?}", x.shape()),
        ));
    }
    Ok(())
}

/// Checks that two arrays have the same shape.
pub fn check_same_shape<F>(op: &str, expected: &[usize], got: &ArrayView2<'_, F>) -> Result<()> {
    if expected != got.shape() {
        return Err(shape_err(
            op,
            format!("{expected:?}"),
            format!("{:?}", got.shape()),
        ));
    }
    Ok(())
}

/// Row-wise softmax. Subtracting each row's maximum first keeps `exp` finite for any logits.
///
/// # Shapes
/// `x: (batch, classes)` -> `(batch, classes)`.
pub fn softmax<F: Float>(x: ArrayView2<'_, F>) -> Array2<F> {
    let mut y = x.to_owned();
    softmax_in_place(&mut y);
    y
}

/// Row-wise softmax, overwriting `x`.
pub fn softmax_in_place<F: Float>(x: &mut Array2<F>) {
    for mut row in x.rows_mut() {
        let max = row.fold(F::neg_infinity(), |m, &v| m.max(v));
        let mut sum = F::zero();
        for v in row.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        row /= sum;
    }
}

/// Row-wise log-sum-exp, exact and finite for any finite logits.
pub fn log_sum_exp_rows<F: Float>(x: ArrayView2<'_, F>) -> Array1<F> {
    x.rows()
        .into_iter()
        .map(|row| {
            let max = row.fold(F::neg_infinity(), |m, &v| m.max(v));
            max + row.iter().map(|&v| (v - max).exp()).sum::<F>().ln()
        })
        .collect()
}

/// Mean cross-entropy of softmax(`logits`) against `t`, computed through log-sum-exp.
///
/// Exact and finite for any finite logits, so `(softmax(x) - t) / batch` is its exact gradient.
pub fn cross_entropy_from_logits<F: Float>(
    logits: ArrayView2<'_, F>,
    t: Targets<'_, F>,
) -> Result<F> {
    let (batch, classes) = logits.dim();
    t.check("cross_entropy_from_logits", batch, classes)?;
    let lse = log_sum_exp_rows(logits);
    let total = match t {
        // -log softmax(x)_k = lse - x_k
        Targets::Labels(labels) => labels
            .iter()
            .enumerate()
            .map(|(i, &k)| lse[i] - logits[[i, k]])
            .sum::<F>(),
        // -sum_k t_k log softmax(x)_k = sum_k t_k (lse - x_k)
        Targets::OneHot(t) => ndarray::Zip::from(logits.rows())
            .and(t.rows())
            .and(&lse)
            .fold(F::zero(), |acc, x, t, &l| {
                acc + x
                    .iter()
                    .zip(t.iter())
                    .map(|(&x, &t)| t * (l - x))
                    .sum::<F>()
            }),
    };
    Ok(total / F::of(batch as f64))
}

/// Softmax of `x` written into `y`, and the mean cross-entropy against `t`, in
/// one pass with one `exp` per entry: what `SoftmaxWithLoss` needs per batch.
///
/// Same values as [`softmax`] and [`cross_entropy_from_logits`]; `y` is resized
/// to `x`'s shape if needed, so a buffer can be reused.
pub fn softmax_cross_entropy<F: Float>(
    x: ArrayView2<'_, F>,
    t: Targets<'_, F>,
    y: &mut Array2<F>,
) -> Result<F> {
    let (batch, classes) = x.dim();
    t.check("softmax_cross_entropy", batch, classes)?;
    if y.dim() != x.dim() || !y.is_standard_layout() {
        *y = Array2::zeros(x.dim());
    }
    // Rows as plain slices: the same arithmetic as on ndarray's row views, with
    // less overhead per row (measured, docs/performance.md).
    let x = x.as_standard_layout();
    let (Some(xs), Some(ys)) = (x.as_slice(), y.as_slice_mut()) else {
        return Err(CoreError::InvalidArgument {
            op: "softmax_cross_entropy".into(),
            why: "expected contiguous arrays".into(),
        });
    };
    let mut total = F::zero();
    // `max(1)`: no rows to visit when there are no classes.
    let width = classes.max(1);
    let row_max = |xr: &[F]| xr.iter().fold(F::neg_infinity(), |m, &v| m.max(v));
    for (xr, yr) in xs.chunks_exact(width).zip(ys.chunks_exact_mut(width)) {
        let max = row_max(xr);
        for (y, &x) in yr.iter_mut().zip(xr) {
            *y = x - max;
        }
    }
    // All the exponentials in one call: vectorised for f32.
    F::exp_in_place(ys);
    let rows = xs.chunks_exact(width).zip(ys.chunks_exact_mut(width));
    for (i, (xr, yr)) in rows.enumerate() {
        let max = row_max(xr);
        let sum = yr.iter().fold(F::zero(), |s, &y| s + y);
        for y in yr.iter_mut() {
            *y /= sum;
        }
        let lse = max + sum.ln();
        total += match t {
            Targets::Labels(labels) => lse - xr[labels[i]],
            Targets::OneHot(t) => t
                .row(i)
                .iter()
                .zip(xr.iter())
                .map(|(&t, &x)| t * (lse - x))
                .sum::<F>(),
        };
    }
    Ok(total / F::of(batch as f64))
}

/// The book's `cross_entropy_error(y, t)` on probabilities `y`, with its `+1e-7` guard.
///
/// Kept for parity with the book. The guard shifts the loss a little, so a gradient
/// check through it differs from backprop by about 1e-7 for the last bias:
/// [`cross_entropy_from_logits`] is the exact form the layers use.
pub fn cross_entropy_error<F: Float>(y: ArrayView2<'_, F>, t: Targets<'_, F>) -> Result<F> {
    let (batch, classes) = y.dim();
    t.check("cross_entropy_error", batch, classes)?;
    let delta = F::of(1e-7);
    let total = match t {
        Targets::Labels(labels) => labels
            .iter()
            .enumerate()
            .map(|(i, &k)| -(y[[i, k]] + delta).ln())
            .sum::<F>(),
        Targets::OneHot(t) => ndarray::Zip::from(&y)
            .and(&t)
            .fold(F::zero(), |acc, &y, &t| acc - t * (y + delta).ln()),
    };
    Ok(total / F::of(batch as f64))
}

/// Element-wise logistic sigmoid `1 / (1 + exp(-x))`, finite for any input.
pub fn sigmoid<F: Float>(x: F) -> F {
    // Branch on the sign so that exp never overflows.
    if x >= F::zero() {
        F::one() / (F::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (F::one() + e)
    }
}

/// Element-wise ReLU `max(0, x)`.
pub fn relu<F: Float>(x: F) -> F {
    if x > F::zero() {
        x
    } else {
        F::zero()
    }
}

/// Index of the largest value in each row (first one on ties).
pub fn argmax_rows<F: Float>(x: ArrayView2<'_, F>) -> Vec<usize> {
    x.rows().into_iter().map(argmax).collect()
}

/// Index of the largest value (first one on ties; 0 for an empty view).
pub fn argmax<F: Float>(row: ArrayView1<'_, F>) -> usize {
    let mut best = 0;
    let mut best_v = F::neg_infinity();
    for (i, &v) in row.iter().enumerate() {
        if v > best_v {
            best = i;
            best_v = v;
        }
    }
    best
}

/// One-hot encodes class labels into a `(labels.len(), classes)` matrix.
pub fn one_hot<F: Float>(labels: &[usize], classes: usize) -> Result<Array2<F>> {
    let mut out = Array2::zeros((labels.len(), classes));
    for (row, &label) in labels.iter().enumerate() {
        if label >= classes {
            return Err(CoreError::LabelOutOfRange {
                op: "one_hot".into(),
                label,
                row,
                classes,
            });
        }
        out[[row, label]] = F::one();
    }
    Ok(out)
}

/// A `(rows, cols)` matrix of normal samples with mean 0 and standard deviation `std`.
///
/// The caller passes the generator, so a seeded one (e.g. ChaCha) makes runs reproducible.
pub fn init_normal<F: Float, R: Rng + ?Sized>(
    rng: &mut R,
    rows: usize,
    cols: usize,
    std: F,
) -> Result<Array2<F>> {
    if !(std.is_finite() && std >= F::zero()) {
        return Err(CoreError::InvalidArgument {
            op: "init_normal".into(),
            why: format!("standard deviation must be finite and >= 0, got {std}"),
        });
    }
    Ok(Array2::from_shape_simple_fn((rows, cols), || {
        F::sample_standard_normal(rng) * std
    }))
}

/// Step of the central differences, as in the book.
pub const NUMERICAL_H: f64 = 1e-4;

/// Central-difference gradient `(f(x+h) - f(x-h)) / 2h` of `f` for every element of `x`.
///
/// Each element is restored after use, so `x` is unchanged on return.
pub fn numerical_gradient<F, D, E>(
    x: &mut Array<F, D>,
    mut f: impl FnMut(&Array<F, D>) -> Result<F, E>,
) -> Result<Array<F, D>, E>
where
    F: Float,
    D: Dimension,
{
    numerical_gradient_of(x, |x| x, |x| f(x))
}

/// Central-difference gradient of `f(state)` with respect to the array `param(state)`.
///
/// This form lets a network nudge one of its own parameters in place and re-run its loss;
/// every element is restored afterwards.
pub fn numerical_gradient_of<S, F, D, E>(
    state: &mut S,
    param: impl Fn(&mut S) -> &mut Array<F, D>,
    mut f: impl FnMut(&mut S) -> Result<F, E>,
) -> Result<Array<F, D>, E>
where
    S: ?Sized,
    F: Float,
    D: Dimension,
{
    let h = F::of(NUMERICAL_H);
    let shape = param(state).raw_dim();
    let mut grad = Array::<F, D>::zeros(shape);
    let n = grad.len();
    for i in 0..n {
        let orig = nth(param(state), i);
        set_nth(param(state), i, orig + h);
        let plus = f(state);
        set_nth(param(state), i, orig - h);
        let minus = f(state);
        set_nth(param(state), i, orig);
        let (plus, minus) = (plus?, minus?);
        set_nth(&mut grad, i, (plus - minus) / (h + h));
    }
    Ok(grad)
}

fn nth<F: Copy, D: Dimension>(a: &mut Array<F, D>, i: usize) -> F {
    match a.as_slice_memory_order() {
        Some(s) => s[i],
        None => *a
            .iter()
            .nth(i)
            .unwrap_or_else(|| unreachable!("index below len")),
    }
}

fn set_nth<F: Copy, D: Dimension>(a: &mut Array<F, D>, i: usize, v: F) {
    match a.as_slice_memory_order_mut() {
        Some(s) => s[i] = v,
        None => {
            if let Some(e) = a.iter_mut().nth(i) {
                *e = v;
            }
        }
    }
}

/// Sums the rows of `x` into one row (the bias gradient `db`).
pub fn sum_rows<F: Float>(x: ArrayView2<'_, F>) -> Array1<F> {
    x.sum_axis(Axis(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn softmax_is_finite_and_sums_to_one_for_large_logits() {
        let x = array![[1000.0_f64, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]];
        let y = softmax(x.view());
        assert!(y.iter().all(|v| v.is_finite()));
        for row in y.rows() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
        }
        // Shift invariance: [1000, 1001, 1002] behaves as [0, 1, 2].
        let small = softmax(array![[0.0_f64, 1.0, 2.0]].view());
        for k in 0..3 {
            assert!((y[[0, k]] - small[[0, k]]).abs() < 1e-12);
        }
        assert!((y[[1, 2]] - 1.0).abs() < 1e-12);
        let y32 = softmax(array![[1000.0_f32, 1001.0, 1002.0]].view());
        assert!(y32.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn cross_entropy_forms_agree() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let logits = init_normal::<f64, _>(&mut rng, 5, 4, 3.0).unwrap();
        let labels = [0, 3, 2, 1, 3];
        let t = one_hot::<f64>(&labels, 4).unwrap();
        let a = cross_entropy_from_logits(logits.view(), Targets::Labels(&labels)).unwrap();
        let b = cross_entropy_from_logits(logits.view(), Targets::OneHot(t.view())).unwrap();
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        let y = softmax(logits.view());
        let c = cross_entropy_error(y.view(), Targets::Labels(&labels)).unwrap();
        let d = cross_entropy_error(y.view(), Targets::OneHot(t.view())).unwrap();
        assert!((c - d).abs() < 1e-12);
        // The +1e-7 guard moves the book's form slightly, and always down.
        assert!(c < a && a - c < 1e-3, "{a} vs {c}");
    }

    #[test]
    fn fused_softmax_cross_entropy_matches_the_separate_functions() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let x = init_normal::<f64, _>(&mut rng, 6, 5, 4.0).unwrap();
        let labels = [4, 0, 2, 2, 1, 3];
        let t = one_hot::<f64>(&labels, 5).unwrap();
        let mut y = Array2::zeros((1, 1));
        for targets in [Targets::Labels(&labels), Targets::OneHot(t.view())] {
            let fused = softmax_cross_entropy(x.view(), targets, &mut y).unwrap();
            let loss = cross_entropy_from_logits(x.view(), targets).unwrap();
            assert!((fused - loss).abs() < 1e-12, "{fused} vs {loss}");
            let sm = softmax(x.view());
            assert!(y.iter().zip(sm.iter()).all(|(a, b)| (a - b).abs() < 1e-15));
        }
        let huge = array![[-1000.0_f64, 0.0, 1000.0]];
        let loss = softmax_cross_entropy(huge.view(), Targets::Labels(&[0]), &mut y).unwrap();
        assert!((loss - 2000.0).abs() < 1e-9);
        assert!(softmax_cross_entropy(huge.view(), Targets::Labels(&[3]), &mut y).is_err());
        // A transposed input and a column-major buffer give the same bits.
        let xt = x.t().to_owned();
        let mut y_std = Array2::zeros((0, 0));
        let a = softmax_cross_entropy(x.view(), Targets::Labels(&labels), &mut y_std).unwrap();
        let mut y_f = Array2::zeros((5, 6)).reversed_axes();
        let b = softmax_cross_entropy(xt.t(), Targets::Labels(&labels), &mut y_f).unwrap();
        assert_eq!(a.to_bits(), b.to_bits());
        assert_eq!(y_std, y_f);
        // No rows, or no classes: an error, not a panic.
        let empty = Array2::<f64>::zeros((0, 0));
        assert!(softmax_cross_entropy(empty.view(), Targets::Labels(&[]), &mut y).is_err());
        let no_classes = Array2::<f64>::zeros((2, 0));
        let r = softmax_cross_entropy(no_classes.view(), Targets::Labels(&[0, 0]), &mut y);
        assert!(r.is_err());
    }

    #[test]
    fn cross_entropy_from_logits_is_finite_for_extreme_logits() {
        let x = array![[-1000.0_f64, 0.0, 1000.0]];
        let loss = cross_entropy_from_logits(x.view(), Targets::Labels(&[0])).unwrap();
        assert!((loss - 2000.0).abs() < 1e-9, "{loss}");
        let loss = cross_entropy_from_logits(x.view(), Targets::Labels(&[2])).unwrap();
        assert!(loss.abs() < 1e-12);
    }

    #[test]
    fn bad_targets_are_errors() {
        let x = array![[0.0_f64, 1.0], [1.0, 0.0]];
        let err = cross_entropy_from_logits(x.view(), Targets::Labels(&[0, 2])).unwrap_err();
        assert!(matches!(
            err,
            CoreError::LabelOutOfRange {
                label: 2,
                row: 1,
                classes: 2,
                ..
            }
        ));
        assert!(err.to_string().contains("label 2 at row 1"));
        let err = cross_entropy_from_logits(x.view(), Targets::Labels(&[0])).unwrap_err();
        assert!(matches!(err, CoreError::Shape { .. }), "{err}");
        let empty = Array2::<f64>::zeros((0, 2));
        let err = cross_entropy_from_logits(empty.view(), Targets::Labels(&[])).unwrap_err();
        assert!(matches!(err, CoreError::EmptyBatch { .. }));
        let err = one_hot::<f32>(&[1, 10], 10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "one_hot: label 10 at row 1 is out of range for 10 classes"
        );
    }

    #[test]
    fn sigmoid_relu_argmax() {
        assert_eq!(sigmoid(0.0_f64), 0.5);
        assert!(sigmoid(-1000.0_f64) >= 0.0 && sigmoid(-1000.0_f64) < 1e-300);
        assert_eq!(sigmoid(1000.0_f64), 1.0);
        assert_eq!(relu(-2.0_f32), 0.0);
        assert_eq!(relu(2.5_f32), 2.5);
        let x = array![[0.1_f32, 0.8, 0.1], [0.5, 0.2, 0.5]];
        assert_eq!(argmax_rows(x.view()), vec![1, 0]);
    }

    #[test]
    fn init_normal_is_seeded_and_has_the_right_spread() {
        let a = init_normal::<f64, _>(&mut ChaCha8Rng::seed_from_u64(1), 200, 50, 0.01).unwrap();
        let b = init_normal::<f64, _>(&mut ChaCha8Rng::seed_from_u64(1), 200, 50, 0.01).unwrap();
        assert_eq!(a, b);
        let mean = a.mean().unwrap();
        let std = a.std(0.0);
        assert!(mean.abs() < 1e-3, "{mean}");
        assert!((std - 0.01).abs() < 5e-4, "{std}");
        assert!(init_normal::<f32, _>(&mut ChaCha8Rng::seed_from_u64(1), 2, 2, -1.0).is_err());
    }

    #[test]
    fn numerical_gradient_of_a_quadratic() {
        // f(x) = sum x^2 has gradient 2x; central differences are exact for quadratics.
        let mut x = array![[3.0_f64, 4.0], [-1.0, 0.5]];
        let before = x.clone();
        let g =
            numerical_gradient(&mut x, |x| Ok::<_, CoreError>(x.mapv(|v| v * v).sum())).unwrap();
        assert_eq!(x, before, "x must be restored");
        for (g, x) in g.iter().zip(x.iter()) {
            assert!((g - 2.0 * x).abs() < 1e-8, "{g} vs {}", 2.0 * x);
        }
    }
}
