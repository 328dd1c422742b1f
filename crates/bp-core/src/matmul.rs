//! Matrix products for the layers, computed by the [`gemm`] crate.
//!
//! ndarray's `dot` uses matrixmultiply, which has no AVX-512 kernels and packs
//! small matrices slowly; gemm picks AVX-512, AVX2 or baseline kernels at run
//! time, and was faster on every product shape the layers use (measured per
//! shape; the figures, which go stale, are in docs/performance.md).

use std::any::TypeId;

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

use crate::{CoreError, Float, Result};

/// `a b` as a new array.
///
/// # Shapes
/// `a: (m, k)`, `b: (k, n)`, result `(m, n)`.
pub fn matmul<F: Float>(a: ArrayView2<'_, F>, b: ArrayView2<'_, F>) -> Result<Array2<F>> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    matmul_into(a, b, c.view_mut())?;
    Ok(c)
}

/// `c = a b`, overwriting `c`. Any strides (transposed views included).
///
/// # Shapes
/// `a: (m, k)`, `b: (k, n)`, `c: (m, n)`.
pub fn matmul_into<F: Float>(
    a: ArrayView2<'_, F>,
    b: ArrayView2<'_, F>,
    mut c: ArrayViewMut2<'_, F>,
) -> Result<()> {
    let ((m, k), (k2, n)) = (a.dim(), b.dim());
    if k != k2 || c.dim() != (m, n) {
        return Err(CoreError::Shape {
            op: "matmul".into(),
            expected: format!("a: [m, k], b: [k, n], c: [m, n] with a: {:?}", a.shape()),
            got: format!("b: {:?}, c: {:?}", b.shape(), c.shape()),
        });
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    let supported = [TypeId::of::<f32>(), TypeId::of::<f64>()].contains(&TypeId::of::<F>());
    if k == 0 || !supported {
        // gemm knows f32 and f64 only; another `Float` takes ndarray's product.
        general_mat_mul(F::one(), &a, &b, F::zero(), &mut c);
        return Ok(());
    }
    let (a_s, b_s) = (a.strides(), b.strides());
    let c_s = [c.strides()[0], c.strides()[1]];
    let c_ptr = c.as_mut_ptr();
    // SAFETY: gemm reads `m x k` elements of `a` and `k x n` of `b`, and writes
    // `m x n` of `c`, each at `ptr + row * row_stride + col * col_stride`: the
    // shapes were checked above and the strides are the views' own, so every
    // address is an element of its view. `c` is borrowed mutably, so it overlaps
    // neither `a` nor `b`, and a mutable view never repeats an element. `F` is
    // f32 or f64 (checked above), the types gemm computes. With `read_dst`
    // false, gemm writes `c = 1 * a b` without reading `c`.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c_ptr,
            c_s[1],
            c_s[0],
            false,
            a.as_ptr(),
            a_s[1],
            a_s[0],
            b.as_ptr(),
            b_s[1],
            b_s[0],
            F::zero(),
            F::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, s, Array2};

    fn naive(a: &Array2<f64>, b: &Array2<f64>) -> Array2<f64> {
        Array2::from_shape_fn((a.nrows(), b.ncols()), |(i, j)| {
            (0..a.ncols()).map(|t| a[[i, t]] * b[[t, j]]).sum()
        })
    }

    #[test]
    fn products_match_the_definition_for_any_strides() {
        let a = Array2::from_shape_fn((7, 33), |(i, j)| (i * 31 + j * 7) as f64 % 5.0 - 2.0);
        let b = Array2::from_shape_fn((33, 19), |(i, j)| (i * 3 + j * 11) as f64 % 7.0 - 3.0);
        assert_eq!(matmul(a.view(), b.view()).unwrap(), naive(&a, &b));
        // Transposed and strided views.
        let at = a.t().to_owned();
        assert_eq!(matmul(at.t(), b.view()).unwrap(), naive(&a, &b));
        let b2 = b.slice(s![..;2, ..;3]).to_owned();
        let a2 = a.slice(s![.., ..;2]);
        assert_eq!(
            matmul(a2, b.slice(s![..;2, ..;3])).unwrap(),
            naive(&a2.to_owned(), &b2)
        );
        // Into a transposed output.
        let mut c = Array2::<f64>::zeros((19, 7));
        matmul_into(a.view(), b.view(), c.view_mut().reversed_axes()).unwrap();
        assert_eq!(c.t(), naive(&a, &b));
        // f32 agrees with f64 to rounding.
        let c32 = matmul(a.mapv(|v| v as f32).view(), b.mapv(|v| v as f32).view()).unwrap();
        assert_eq!(c32.mapv(f64::from), naive(&a, &b));
    }

    #[test]
    fn empty_and_mismatched_shapes() {
        let a = Array2::<f32>::zeros((3, 0));
        let b = Array2::<f32>::zeros((0, 2));
        assert_eq!(matmul(a.view(), b.view()).unwrap(), Array2::zeros((3, 2)));
        let mut c = Array2::from_elem((3, 2), 9.0f32);
        matmul_into(a.view(), b.view(), c.view_mut()).unwrap();
        assert_eq!(c, Array2::zeros((3, 2)));
        assert_eq!(
            matmul(
                Array2::<f32>::zeros((0, 4)).view(),
                array![[1.0f32], [2.0], [3.0], [4.0]].view()
            )
            .unwrap()
            .dim(),
            (0, 1)
        );
        let err = matmul(array![[1.0f32, 2.0]].view(), array![[1.0f32, 2.0]].view()).unwrap_err();
        assert!(err.to_string().contains("matmul"), "{err}");
        let mut wrong = Array2::<f32>::zeros((2, 2));
        assert!(matmul_into(
            array![[1.0f32]].view(),
            array![[1.0f32]].view(),
            wrong.view_mut()
        )
        .is_err());
    }
}
