//! The fully connected layer [`Affine`]: `x W + b`.

use bp_core::{check_same_shape, check_width, matmul, matmul_into, Float};
use ndarray::{Array1, Array2, ArrayView2, Axis};

use crate::{InputLayer, Layer, LayerError, Param, ParamMut, Result};

/// Fully connected layer `out = x W + b`.
///
/// Backward: `dx = dout Wᵀ`, `dW = xᵀ dout`, `db` = column sums of `dout`.
///
/// # Shapes
/// `W: (input, output)`, `b: (output)`, `x: (batch, input)` -> `(batch, output)`.
#[derive(Debug, Clone)]
pub struct Affine<F> {
    w_name: String,
    b_name: String,
    /// Weights `(input, output)`.
    pub w: Array2<F>,
    /// Bias `(output)`.
    pub b: Array1<F>,
    /// Gradient of the loss with respect to `w`, set by `backward`.
    pub dw: Array2<F>,
    /// Gradient of the loss with respect to `b`, set by `backward`.
    pub db: Array1<F>,
    /// The input of the last forward pass (a reused buffer).
    x: Option<Array2<F>>,
}

impl<F: Float> Affine<F> {
    /// An affine layer with the given weights and bias; `index` names its
    /// parameters `W{index}` and `b{index}` as in the book.
    pub fn new(w: Array2<F>, b: Array1<F>, index: usize) -> Result<Self> {
        if w.ncols() != b.len() {
            return Err(LayerError::Config(format!(
                "Affine{index}: W is {:?} but b has {} elements",
                w.shape(),
                b.len()
            )));
        }
        let (dw, db) = (Array2::zeros(w.raw_dim()), Array1::zeros(b.raw_dim()));
        Ok(Self {
            w_name: format!("W{index}"),
            b_name: format!("b{index}"),
            w,
            b,
            dw,
            db,
            x: None,
        })
    }

    /// Input width.
    pub fn input_size(&self) -> usize {
        self.w.nrows()
    }

    /// Output width.
    pub fn output_size(&self) -> usize {
        self.w.ncols()
    }

    fn op(&self) -> String {
        format!("Affine({})", self.w_name)
    }

    /// `x W + b`, the forward pass itself (both layer interfaces share it).
    fn affine_map(&self, x: ArrayView2<'_, F>) -> Result<Array2<F>> {
        check_width(&self.op(), &x, self.input_size())?;
        let mut out = matmul(x, self.w.view())?;
        out += &self.b;
        Ok(out)
    }
}

/// `dW = xᵀ dout` and `db` = column sums of `dout`.
fn params_grads<F: Float>(
    op: &str,
    x: ArrayView2<'_, F>,
    dout: ArrayView2<'_, F>,
    dw: &mut Array2<F>,
    db: &mut Array1<F>,
) -> Result<()> {
    check_same_shape(&format!("{op} backward"), &[x.nrows(), dw.ncols()], &dout)?;
    matmul_into(x.t(), dout, dw.view_mut())?;
    *db = dout.sum_axis(Axis(0));
    Ok(())
}

impl<F: Float> Layer<F> for Affine<F> {
    fn name(&self) -> &str {
        "Affine"
    }

    fn forward(&mut self, x: ArrayView2<'_, F>) -> Result<Array2<F>> {
        let out = self.affine_map(x)?;
        // Keep the input for backward in a buffer reused across batches of one size.
        match &mut self.x {
            Some(cache) if cache.dim() == x.dim() => cache.assign(&x),
            cache => *cache = Some(x.to_owned()),
        }
        Ok(out)
    }

    fn backward(&mut self, dout: ArrayView2<'_, F>) -> Result<Array2<F>> {
        let op = self.op();
        let x = self
            .x
            .as_ref()
            .ok_or(LayerError::BackwardBeforeForward { layer: op.clone() })?;
        params_grads(&op, x.view(), dout, &mut self.dw, &mut self.db)?;
        Ok(matmul(dout, self.w.t())?)
    }

    fn params(&self) -> Vec<Param<'_, F>> {
        vec![
            Param {
                name: &self.w_name,
                value: self.w.view().into_dyn(),
                grad: self.dw.view().into_dyn(),
            },
            Param {
                name: &self.b_name,
                value: self.b.view().into_dyn(),
                grad: self.db.view().into_dyn(),
            },
        ]
    }

    fn params_mut(&mut self) -> Vec<ParamMut<'_, F>> {
        vec![
            ParamMut {
                name: &self.w_name,
                value: self.w.view_mut().into_dyn(),
                grad: self.dw.view().into_dyn(),
            },
            ParamMut {
                name: &self.b_name,
                value: self.b.view_mut().into_dyn(),
                grad: self.db.view().into_dyn(),
            },
        ]
    }
}

/// As a net's first layer, `Affine` reads dense rows, and is handed them again
/// for the backward pass instead of caching a copy.
impl<F: Float> InputLayer<F> for Affine<F> {
    type Batch<'a> = ArrayView2<'a, F>;

    fn forward(&mut self, x: ArrayView2<'_, F>) -> Result<Array2<F>> {
        self.affine_map(x)
    }

    fn backward(&mut self, x: ArrayView2<'_, F>, dout: ArrayView2<'_, F>) -> Result<()> {
        check_width(&self.op(), &x, self.input_size())?;
        params_grads(&self.op(), x, dout, &mut self.dw, &mut self.db)
    }

    fn affine(&self) -> &Affine<F> {
        self
    }

    fn affine_mut(&mut self) -> &mut Affine<F> {
        self
    }
}
