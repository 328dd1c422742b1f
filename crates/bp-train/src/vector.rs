//! Two loops over whole parameters, compiled for AVX-512, AVX2 and the baseline
//! and picked at run time by [`pulp`] (the default x86-64 target is SSE2 only):
//! SGD's `w += alpha * g` and the lane sums of the divergence checks. The
//! arithmetic is the same as the plain loops', so are the results, bit for bit.

use bp_core::{simd_arch, Float};

/// `y[i] = y[i] + alpha * x[i]`, as `ndarray`'s `scaled_add` computes it.
pub(crate) fn scaled_add<F: Float>(y: &mut [F], alpha: F, x: &[F]) {
    struct Op<'a, F> {
        y: &'a mut [F],
        alpha: F,
        x: &'a [F],
    }
    impl<F: Float> pulp::WithSimd for Op<'_, F> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) {
            for (y, &x) in self.y.iter_mut().zip(self.x) {
                *y += self.alpha * x;
            }
        }
    }
    simd_arch().dispatch(Op { y, alpha, x })
}

/// The sum of `values` in 32 independent lanes, which the compiler turns into
/// vector adds (a plain float sum is one chain of scalar adds: 3x slower on W1).
pub(crate) fn lane_sum<F: Float>(values: &[F]) -> F {
    struct Op<'a, F>(&'a [F]);
    impl<F: Float> pulp::WithSimd for Op<'_, F> {
        type Output = F;
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) -> F {
            const LANES: usize = 32;
            let mut lanes = [F::zero(); LANES];
            let chunks = self.0.chunks_exact(LANES);
            let rest = chunks.remainder().iter().fold(F::zero(), |a, &v| a + v);
            for chunk in chunks {
                for (lane, &v) in lanes.iter_mut().zip(chunk) {
                    *lane += v;
                }
            }
            lanes.iter().fold(rest, |a, &v| a + v)
        }
    }
    simd_arch().dispatch(Op(values))
}
