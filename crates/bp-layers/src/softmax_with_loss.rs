//! The output layer [`SoftmaxWithLoss`]: softmax followed by cross-entropy.

use bp_core::{softmax_cross_entropy, Float, Targets};
use ndarray::{Array2, ArrayView2};

use crate::{LayerError, Result};

/// Softmax then mean cross-entropy; backward is `(y - t) / batch`.
///
/// The loss is computed from the logits through log-sum-exp, so it is finite for
/// any logits and `(y - t) / batch` is its exact gradient.
#[derive(Debug, Clone)]
pub struct SoftmaxWithLoss<F> {
    /// Softmax output of the last forward pass.
    y: Array2<F>,
    /// Targets of the last forward pass, as class indices or one-hot rows.
    t: Option<CachedTargets<F>>,
    /// Loss of the last forward pass.
    loss: Option<F>,
}

#[derive(Debug, Clone)]
enum CachedTargets<F> {
    Labels(Vec<usize>),
    OneHot(Array2<F>),
}

impl<F: Float> Default for SoftmaxWithLoss<F> {
    fn default() -> Self {
        Self {
            y: Array2::zeros((0, 0)),
            t: None,
            loss: None,
        }
    }
}

impl<F: Float> SoftmaxWithLoss<F> {
    /// A layer with an empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Mean cross-entropy of softmax(`x`) against `t`; caches `y` and `t` for backward.
    pub fn forward(&mut self, x: ArrayView2<'_, F>, t: Targets<'_, F>) -> Result<F> {
        t.check("SoftmaxWithLoss", x.nrows(), x.ncols())?;
        let loss = softmax_cross_entropy(x, t, &mut self.y)?;
        self.t = Some(match (t, self.t.take()) {
            (Targets::Labels(l), Some(CachedTargets::Labels(mut v))) => {
                v.clear();
                v.extend_from_slice(l);
                CachedTargets::Labels(v)
            }
            (Targets::Labels(l), _) => CachedTargets::Labels(l.to_vec()),
            (Targets::OneHot(t), _) => CachedTargets::OneHot(t.to_owned()),
        });
        self.loss = Some(loss);
        Ok(loss)
    }

    /// Gradient with respect to the logits: `dout * (y - t) / batch`.
    pub fn backward(&self, dout: F) -> Result<Array2<F>> {
        let t = self.t.as_ref().ok_or(LayerError::BackwardBeforeForward {
            layer: "SoftmaxWithLoss".into(),
        })?;
        let scale = dout / F::of(self.y.nrows() as f64);
        let mut dx = self.y.clone();
        match t {
            CachedTargets::Labels(labels) => {
                for (mut row, &k) in dx.rows_mut().into_iter().zip(labels) {
                    row[k] -= F::one();
                }
            }
            CachedTargets::OneHot(t) => dx -= t,
        }
        dx.mapv_inplace(|v| v * scale);
        Ok(dx)
    }

    /// Softmax probabilities of the last forward pass.
    pub fn probabilities(&self) -> ArrayView2<'_, F> {
        self.y.view()
    }

    /// Loss of the last forward pass, if any.
    pub fn loss(&self) -> Option<F> {
        self.loss
    }
}
