//! `e^x` over a whole slice of `f32`, vectorised: one `expf` call at a time was
//! about half of SoftmaxWithLoss's time on an MNIST batch (figures in
//! docs/performance.md).
//!
//! The polynomial is Cephes' `expf` (within 1 ulp of the exact value; 0.76 ulp
//! measured over `[-87, 0]`). It uses plain multiplies and adds, no fused
//! multiply-add, so the AVX-512, AVX2 and baseline builds that [`pulp`] picks
//! between at run time give the same bits.

/// `ln 2` split in two, so that `x - n ln 2` is exact for the `n` used here.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Adding then subtracting `1.5 * 2^23` rounds a float to the nearest integer.
const ROUND: f32 = 12_582_912.0;
/// Below this, `e^x` would leave the normal floats: inputs are raised to it.
const MIN_INPUT: f32 = -87.336_54;
/// Above this, `2^n` below would overflow: the result is +inf (the exact value
/// overflows from about 88.72).
const MAX_INPUT: f32 = 88.0;

/// `e^x`; a NaN stays NaN, inputs below about -87.3 give about 1.2e-38 (the
/// smallest normal float) instead of a subnormal or zero, and inputs above 88
/// give +inf.
#[inline(always)]
fn exp(x: f32) -> f32 {
    // Comparisons rather than `max`/`min`, which would turn a NaN into a bound.
    let x = if x < MIN_INPUT { MIN_INPUT } else { x };
    let big = x > MAX_INPUT;
    let x = if big { MAX_INPUT } else { x };
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_2e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e = p * (r * r) + r + 1.0;
    // `n` is an integer in [-126, 127] here (NaN converts to 0), so `2^n` is a
    // normal float built from its exponent bits.
    let scaled = e * f32::from_bits(((n as i32 + 127) << 23) as u32);
    if big {
        f32::INFINITY
    } else {
        scaled
    }
}

/// Replaces every element of `xs` by its exponential.
pub(crate) fn exp_in_place(xs: &mut [f32]) {
    struct Op<'a>(&'a mut [f32]);
    impl pulp::WithSimd for Op<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(self, _: S) {
            for x in self.0.iter_mut() {
                *x = exp(*x);
            }
        }
    }
    crate::simd_arch().dispatch(Op(xs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_one_ulp_of_the_exact_exponential() {
        let mut xs: Vec<f32> = (0..=200_000)
            .map(|i| -87.0 + i as f32 * (87.0 + 87.9) / 200_000.0)
            .collect();
        let inputs = xs.clone();
        exp_in_place(&mut xs);
        for (&e, &x) in xs.iter().zip(&inputs) {
            let exact = f64::from(x).exp();
            let ulp = f64::from((exact as f32).abs() * f32::EPSILON);
            assert!(
                (f64::from(e) - exact).abs() <= ulp,
                "exp({x}) = {e}, exact {exact}"
            );
        }
    }

    #[test]
    fn special_values() {
        let mut xs = [
            0.0,
            f32::NAN,
            f32::NEG_INFINITY,
            -1000.0,
            89.0,
            f32::INFINITY,
            1.0,
        ];
        exp_in_place(&mut xs);
        assert_eq!(xs[0], 1.0);
        assert!(xs[1].is_nan());
        assert!(xs[2] > 0.0 && xs[2] < 1.2e-38 * 1.01);
        assert!(xs[3] > 0.0 && xs[3] < 1.2e-38 * 1.01);
        assert_eq!(xs[4], f32::INFINITY);
        assert_eq!(xs[5], f32::INFINITY);
        assert!((xs[6] - std::f32::consts::E).abs() <= f32::EPSILON * 3.0);
    }
}
