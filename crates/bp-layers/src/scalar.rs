//! The book's first computational graphs: multiplication and addition nodes on scalars.

use crate::{LayerError, Result};

/// A multiplication node `out = x * y`; backward swaps the inputs: `dx = dout * y`, `dy = dout * x`.
#[derive(Debug, Default, Clone)]
pub struct MulLayer {
    inputs: Option<(f64, f64)>,
}

impl MulLayer {
    /// A node that has not seen a forward pass yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Computes `x * y` and remembers both inputs for the backward pass.
    pub fn forward(&mut self, x: f64, y: f64) -> f64 {
        self.inputs = Some((x, y));
        x * y
    }

    /// Returns `(dx, dy)` for the upstream gradient `dout`.
    pub fn backward(&self, dout: f64) -> Result<(f64, f64)> {
        let (x, y) = self.inputs.ok_or(LayerError::BackwardBeforeForward {
            layer: "MulLayer".into(),
        })?;
        Ok((dout * y, dout * x))
    }
}

/// An addition node `out = x + y`; backward passes `dout` unchanged to both inputs.
#[derive(Debug, Default, Clone, Copy)]
pub struct AddLayer;

impl AddLayer {
    /// An addition node (it caches nothing).
    pub fn new() -> Self {
        Self
    }

    /// Computes `x + y`.
    pub fn forward(&mut self, x: f64, y: f64) -> f64 {
        x + y
    }

    /// Returns `(dx, dy) = (dout, dout)`.
    pub fn backward(&self, dout: f64) -> (f64, f64) {
        (dout, dout)
    }
}

/// Rounds `v` to `digits` significant digits for display, so that
/// `220.00000000000003` prints as `220` and `2.2000000000000002` as `2.2`.
pub fn round_sig(v: f64, digits: usize) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let s = format!("{:.*e}", digits.saturating_sub(1), v);
    s.parse().unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_backward_swaps_inputs() {
        let mut m = MulLayer::new();
        assert_eq!(m.forward(3.0, 4.0), 12.0);
        assert_eq!(m.backward(2.0).unwrap(), (8.0, 6.0));
    }

    #[test]
    fn mul_backward_before_forward_is_an_error() {
        let err = MulLayer::new().backward(1.0).unwrap_err();
        assert_eq!(err.to_string(), "MulLayer: backward called before forward");
    }

    #[test]
    fn add_passes_gradient_through() {
        let mut a = AddLayer::new();
        assert_eq!(a.forward(1.5, 2.0), 3.5);
        assert_eq!(a.backward(1.3), (1.3, 1.3));
    }

    #[test]
    fn rounding_for_display() {
        assert_eq!(round_sig(220.00000000000003, 10).to_string(), "220");
        assert_eq!(round_sig(100.0 * 1.1 * 0.02, 10).to_string(), "2.2");
        assert_eq!(round_sig(-0.1 - 0.2, 10).to_string(), "-0.3");
        assert_eq!(round_sig(0.0, 10), 0.0);
    }
}
