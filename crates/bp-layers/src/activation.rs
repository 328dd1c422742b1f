//! Activation layers: [`Relu`] and [`Sigmoid`].

use bp_core::{check_same_shape, relu, sigmoid, Float};
use ndarray::{Array2, ArrayView2, Zip};

use crate::{Layer, LayerError, Result};

/// ReLU: `max(0, x)`; caches the mask of `x <= 0` and zeroes `dout` there on the way back.
#[derive(Debug, Clone, Default)]
pub struct Relu {
    mask: Option<Array2<bool>>,
}

impl Relu {
    /// A ReLU layer with an empty cache.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<F: Float> Layer<F> for Relu {
    fn name(&self) -> &str {
        "Relu"
    }

    fn forward(&mut self, x: ArrayView2<'_, F>) -> Result<Array2<F>> {
        let mask = self.mask.get_or_insert_with(|| Array2::default((0, 0)));
        if mask.dim() != x.dim() {
            *mask = Array2::default(x.dim());
        }
        // One pass: the mask and the output together.
        Ok(Zip::from(mask).and(&x).map_collect(|m, &v| {
            *m = v <= F::zero();
            relu(v)
        }))
    }

    fn backward(&mut self, dout: ArrayView2<'_, F>) -> Result<Array2<F>> {
        let mask = self
            .mask
            .as_ref()
            .ok_or(LayerError::BackwardBeforeForward {
                layer: "Relu".into(),
            })?;
        check_same_shape("Relu backward", mask.shape(), &dout)?;
        // The caller's `dout` is left untouched (the book overwrites it in place).
        Ok(Zip::from(&dout)
            .and(mask)
            .map_collect(|&d, &m| if m { F::zero() } else { d }))
    }
}

/// Sigmoid: `1 / (1 + exp(-x))`; backward uses only its own output, `dout * y * (1 - y)`.
#[derive(Debug, Clone)]
pub struct Sigmoid<F> {
    out: Option<Array2<F>>,
}

impl<F> Default for Sigmoid<F> {
    fn default() -> Self {
        Self { out: None }
    }
}

impl<F: Float> Sigmoid<F> {
    /// A sigmoid layer with an empty cache.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<F: Float> Layer<F> for Sigmoid<F> {
    fn name(&self) -> &str {
        "Sigmoid"
    }

    fn forward(&mut self, x: ArrayView2<'_, F>) -> Result<Array2<F>> {
        let out = x.mapv(sigmoid);
        self.out = Some(out.clone());
        Ok(out)
    }

    fn backward(&mut self, dout: ArrayView2<'_, F>) -> Result<Array2<F>> {
        let y = self.out.as_ref().ok_or(LayerError::BackwardBeforeForward {
            layer: "Sigmoid".into(),
        })?;
        check_same_shape("Sigmoid backward", y.shape(), &dout)?;
        Ok(Zip::from(&dout)
            .and(y)
            .map_collect(|&d, &y| d * (F::one() - y) * y))
    }
}
