//! One half of a data set (training or test): raw `u8` images and labels, and the
//! float views the book's `load_mnist(normalize, flatten, one_hot_label)` gives.

use ndarray::{Array2, Array4, ArrayView2, ArrayView3};
use num_traits::Float;

use crate::error::DataError;

/// Images and labels of one split (training or test) of a data set.
///
/// The images stay as raw `u8` (MNIST's training images take 47 MB; as `f32`
/// they would take 188 MB). Convert them once with [`Split::to_f32`] /
/// [`Split::to_float`], or per minibatch with [`Split::gather_into`], which fills
/// reused buffers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    images: Vec<u8>,
    labels: Vec<u8>,
    rows: usize,
    cols: usize,
    num_classes: usize,
}

/// 256 entries: the float value of every byte, optionally divided by 255.
fn lut<F: Float>(normalize: bool) -> [F; 256] {
    let mut t = [F::zero(); 256];
    let scale = if normalize {
        F::from(255u8).unwrap_or_else(F::one)
    } else {
        F::one()
    };
    for (i, v) in t.iter_mut().enumerate() {
        *v = F::from(i).unwrap_or_else(F::zero) / scale;
    }
    t
}

impl Split {
    /// Builds a split from `images` (`n * rows * cols` bytes, row-major) and `labels`
    /// (`n` bytes, each below `num_classes`); checks both.
    pub fn new(
        images: Vec<u8>,
        labels: Vec<u8>,
        rows: usize,
        cols: usize,
        num_classes: usize,
    ) -> Result<Split, DataError> {
        let size = rows.checked_mul(cols).filter(|&s| s > 0).ok_or_else(|| {
            DataError::arg("Split::new", format!("invalid image size {rows}x{cols}"))
        })?;
        if labels.len().checked_mul(size) != Some(images.len()) {
            return Err(DataError::arg(
                "Split::new",
                format!(
                    "{} image bytes are not {} labels x {rows}x{cols} pixels",
                    images.len(),
                    labels.len()
                ),
            ));
        }
        if let Some((i, &l)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| usize::from(l) >= num_classes)
        {
            return Err(DataError::arg(
                "Split::new",
                format!("label {l} at index {i} is out of range for {num_classes} classes"),
            ));
        }
        Ok(Split {
            images,
            labels,
            rows,
            cols,
            num_classes,
        })
    }

    /// The number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image height in pixels (28).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Image width in pixels (28).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Pixels per image, `rows * cols` (784).
    pub fn image_size(&self) -> usize {
        self.rows * self.cols
    }

    /// The number of classes labels are drawn from (10).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// All images, one flattened image per row (`n x 784`), without copying.
    pub fn images(&self) -> ArrayView2<'_, u8> {
        ArrayView2::from_shape((self.len(), self.image_size()), &self.images)
            .expect("the shape was checked at construction")
    }

    /// All images as `n x rows x cols`, without copying.
    pub fn images_3d(&self) -> ArrayView3<'_, u8> {
        self.images()
            .into_shape_with_order((self.len(), self.rows, self.cols))
            .expect("the shape was checked at construction")
    }

    /// Image `i` as `rows x cols`, or `None` if `i` is out of range.
    pub fn image(&self, i: usize) -> Option<ArrayView2<'_, u8>> {
        let size = self.image_size();
        let pixels = self
            .images
            .get(i.checked_mul(size)?..(i + 1).checked_mul(size)?)?;
        ArrayView2::from_shape((self.rows, self.cols), pixels).ok()
    }

    /// The raw image bytes, `n * rows * cols`, row-major.
    pub fn image_bytes(&self) -> &[u8] {
        &self.images
    }

    /// The labels, one per image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The labels as class indices.
    pub fn labels_usize(&self) -> Vec<usize> {
        self.labels.iter().map(|&l| usize::from(l)).collect()
    }

    /// How many examples each class has, indexed by label.
    pub fn label_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }

    /// All images as floats, `n x 784` (the book's `flatten=True`); divided by 255
    /// into `[0, 1]` when `normalize`, else `0.0..=255.0`. Allocates `n * 784` floats.
    pub fn to_float<F: Float>(&self, normalize: bool) -> Array2<F> {
        let t = lut::<F>(normalize);
        let v: Vec<F> = self.images.iter().map(|&p| t[usize::from(p)]).collect();
        Array2::from_shape_vec((self.len(), self.image_size()), v)
            .expect("the shape was checked at construction")
    }

    /// [`Split::to_float`] for `f32`.
    pub fn to_f32(&self, normalize: bool) -> Array2<f32> {
        self.to_float(normalize)
    }

    /// [`Split::to_float`] for `f64`.
    pub fn to_f64(&self, normalize: bool) -> Array2<f64> {
        self.to_float(normalize)
    }

    /// All images as floats, `n x 1 x rows x cols` (the book's `flatten=False`).
    pub fn to_float_nchw<F: Float>(&self, normalize: bool) -> Array4<F> {
        self.to_float(normalize)
            .into_shape_with_order((self.len(), 1, self.rows, self.cols))
            .expect("the shape was checked at construction")
    }

    /// The labels one-hot encoded, `n x num_classes` (the book's `one_hot_label=True`).
    pub fn one_hot<F: Float>(&self) -> Array2<F> {
        let mut t = Array2::zeros((self.len(), self.num_classes));
        for (mut row, &l) in t.rows_mut().into_iter().zip(&self.labels) {
            row[usize::from(l)] = F::one();
        }
        t
    }

    fn check_indices(&self, what: &'static str, indices: &[usize]) -> Result<(), DataError> {
        match indices.iter().enumerate().find(|(_, &i)| i >= self.len()) {
            Some((pos, &i)) => Err(DataError::arg(
                what,
                format!(
                    "index {i} at position {pos} is out of range for a split of {} examples",
                    self.len()
                ),
            )),
            None => Ok(()),
        }
    }

    /// Gathers a minibatch: the images at `indices`, normalised to `[0, 1]`, into
    /// `out_x` (`indices.len() x 784`) and their labels into `out_labels`. The
    /// buffers are reused when they already have the right shape, so a training
    /// loop allocates nothing per batch. An index out of range is an error (and
    /// leaves the buffers unspecified).
    pub fn gather_into<F: Float>(
        &self,
        indices: &[usize],
        out_x: &mut Array2<F>,
        out_labels: &mut Vec<usize>,
    ) -> Result<(), DataError> {
        self.check_indices("Split::gather_into", indices)?;
        let d = self.image_size();
        if out_x.dim() != (indices.len(), d) {
            *out_x = Array2::zeros((indices.len(), d));
        }
        let t = lut::<F>(true);
        for (mut row, &i) in out_x.rows_mut().into_iter().zip(indices) {
            for (x, &p) in row.iter_mut().zip(&self.images[i * d..(i + 1) * d]) {
                *x = t[usize::from(p)];
            }
        }
        out_labels.clear();
        out_labels.extend(indices.iter().map(|&i| usize::from(self.labels[i])));
        Ok(())
    }

    /// Gathers the one-hot labels of `indices` into `out_t` (`indices.len() x num_classes`),
    /// reusing it when it has the right shape.
    pub fn gather_one_hot_into<F: Float>(
        &self,
        indices: &[usize],
        out_t: &mut Array2<F>,
    ) -> Result<(), DataError> {
        self.check_indices("Split::gather_one_hot_into", indices)?;
        if out_t.dim() != (indices.len(), self.num_classes) {
            *out_t = Array2::zeros((indices.len(), self.num_classes));
        } else {
            out_t.fill(F::zero());
        }
        for (mut row, &i) in out_t.rows_mut().into_iter().zip(indices) {
            row[usize::from(self.labels[i])] = F::one();
        }
        Ok(())
    }

    /// A new split holding the examples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Result<Split, DataError> {
        self.check_indices("Split::select", indices)?;
        let d = self.image_size();
        let mut images = Vec::with_capacity(indices.len() * d);
        for &i in indices {
            images.extend_from_slice(&self.images[i * d..(i + 1) * d]);
        }
        Ok(Split {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            rows: self.rows,
            cols: self.cols,
            num_classes: self.num_classes,
        })
    }

    /// A new split holding the first `n` examples (all of them if there are fewer).
    pub fn head(&self, n: usize) -> Split {
        let n = n.min(self.len());
        Split {
            images: self.images[..n * self.image_size()].to_vec(),
            labels: self.labels[..n].to_vec(),
            rows: self.rows,
            cols: self.cols,
            num_classes: self.num_classes,
        }
    }

    /// The raw bytes and labels, for reuse.
    pub fn into_parts(self) -> (Vec<u8>, Vec<u8>) {
        (self.images, self.labels)
    }
}
