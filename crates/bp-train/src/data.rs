//! The data a run trains on, as borrowed `u8` views ([`SplitView`], [`TrainData`]),
//! and the conversion of a minibatch to floats ([`BatchBuffer`]).
//!
//! Images stay `u8` for the whole run (the MNIST training set is 47 MB as `u8`,
//! four times that as `f32`). Each minibatch or evaluation chunk is converted into
//! one reused float buffer, scaled to `[0, 1]` as the book's
//! `load_mnist(normalize=True)` does.

use bp_core::Float;
use ndarray::{Array2, ArrayView2};

use crate::error::{Result, TrainError};

/// One split of a data set: `n` images of `d` pixels as an `(n, d)` `u8` matrix,
/// and one class label per image.
///
/// # Shapes
/// `images: (n, d)`, `labels: (n)`.
#[derive(Debug, Clone, Copy)]
pub struct SplitView<'a> {
    /// Pixels, one image per row (0 = background, 255 = ink).
    pub images: ArrayView2<'a, u8>,
    /// Class of each image.
    pub labels: &'a [u8],
}

impl<'a> SplitView<'a> {
    /// A split from images and labels; checks that they have the same count.
    pub fn new(images: ArrayView2<'a, u8>, labels: &'a [u8]) -> Result<Self> {
        if images.nrows() != labels.len() {
            return Err(TrainError::data(format!(
                "{} images but {} labels",
                images.nrows(),
                labels.len()
            )));
        }
        Ok(Self { images, labels })
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image.
    pub fn width(&self) -> usize {
        self.images.ncols()
    }

    /// The examples `start..end` (clamped to the split).
    pub fn slice(&self, start: usize, end: usize) -> SplitView<'a> {
        let end = end.min(self.len());
        let start = start.min(end);
        SplitView {
            images: self.images.slice_move(ndarray::s![start..end, ..]),
            labels: &self.labels[start..end],
        }
    }
}

/// A training and a test split with the number of classes: everything a run reads.
#[derive(Debug, Clone, Copy)]
pub struct TrainData<'a> {
    /// The examples minibatches are drawn from.
    pub train: SplitView<'a>,
    /// The held-out examples, only evaluated.
    pub test: SplitView<'a>,
    /// Number of classes; every label must be below it.
    pub classes: usize,
}

impl<'a> TrainData<'a> {
    /// Checks the splits against each other: same image width, labels below
    /// `classes`, at least one training and one test example.
    pub fn new(train: SplitView<'a>, test: SplitView<'a>, classes: usize) -> Result<Self> {
        let data = Self {
            train,
            test,
            classes,
        };
        data.validate()?;
        Ok(data)
    }

    /// Both splits of a loaded MNIST-family data set, with its class count.
    pub fn from_mnist(data: &'a bp_data::MnistData) -> Result<Self> {
        Self::new(
            SplitView::new(data.train.images(), data.train.labels())?,
            SplitView::new(data.test.images(), data.test.labels())?,
            data.dataset.num_classes(),
        )
    }

    /// Checks what [`new`](Self::new) checks (fields are public, so a caller may
    /// have built the value by hand).
    pub fn validate(&self) -> Result<()> {
        if self.classes < 2 {
            return Err(TrainError::data(format!(
                "need at least 2 classes, got {}",
                self.classes
            )));
        }
        for (name, split) in [("training", &self.train), ("test", &self.test)] {
            if split.images.nrows() != split.labels.len() {
                return Err(TrainError::data(format!(
                    "{name} set: {} images but {} labels",
                    split.images.nrows(),
                    split.labels.len()
                )));
            }
            if split.is_empty() {
                return Err(TrainError::data(format!("{name} set is empty")));
            }
            if split.width() == 0 {
                return Err(TrainError::data(format!("{name} images have no pixels")));
            }
            if let Some((row, &label)) = split
                .labels
                .iter()
                .enumerate()
                .find(|(_, &l)| usize::from(l) >= self.classes)
            {
                return Err(TrainError::data(format!(
                    "{name} set: label {label} at row {row} is out of range for {} classes",
                    self.classes
                )));
            }
        }
        if self.train.width() != self.test.width() {
            return Err(TrainError::data(format!(
                "training images have {} pixels but test images {}",
                self.train.width(),
                self.test.width()
            )));
        }
        Ok(())
    }

    /// Pixels per image: the input width of the net.
    pub fn input_size(&self) -> usize {
        self.train.width()
    }
}

/// A reused float buffer for minibatches or evaluation chunks, and their labels.
#[derive(Debug, Clone)]
pub struct BatchBuffer<F> {
    x: Array2<F>,
    labels: Vec<usize>,
}

impl<F: Float> BatchBuffer<F> {
    /// An empty buffer; it grows to the first batch's size and is reused after.
    pub fn new() -> Self {
        Self {
            x: Array2::zeros((0, 0)),
            labels: Vec::new(),
        }
    }

    fn reshape(&mut self, rows: usize, cols: usize) {
        if self.x.dim() != (rows, cols) {
            self.x = Array2::zeros((rows, cols));
        }
    }

    /// Copies the examples `indices` of `split` into the buffer, scaled to `[0, 1]`.
    /// An index at or past `split.len()` is an error.
    pub fn gather(&mut self, split: &SplitView<'_>, indices: &[usize]) -> Result<()> {
        if let Some(&i) = indices.iter().find(|&&i| i >= split.len()) {
            return Err(TrainError::data(format!(
                "example {i} is out of range for a split of {} examples",
                split.len()
            )));
        }
        self.reshape(indices.len(), split.width());
        self.labels.clear();
        for (mut row, &i) in self.x.rows_mut().into_iter().zip(indices) {
            convert_row(split.images.row(i), row.view_mut());
            self.labels.push(usize::from(split.labels[i]));
        }
        Ok(())
    }

    /// Copies all of `split` (e.g. one evaluation chunk) into the buffer, scaled to `[0, 1]`.
    pub fn load(&mut self, split: &SplitView<'_>) {
        self.reshape(split.len(), split.width());
        self.labels.clear();
        for (mut row, src) in self.x.rows_mut().into_iter().zip(split.images.rows()) {
            convert_row(src, row.view_mut());
        }
        self.labels
            .extend(split.labels.iter().map(|&l| usize::from(l)));
    }

    /// The converted images.
    ///
    /// # Shapes
    /// `(batch, width)`.
    pub fn x(&self) -> ArrayView2<'_, F> {
        self.x.view()
    }

    /// The labels of the converted images, as class indices.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }
}

impl<F: Float> Default for BatchBuffer<F> {
    fn default() -> Self {
        Self::new()
    }
}

/// `dst = src / 255`. Computed rather than looked up in a table so that it
/// vectorises (a table lookup per byte was a fifth of a Fashion-MNIST run); in
/// both `f32` and `f64` it gives exactly `F::of(b as f64 / 255.0)` (tested for
/// every byte).
fn convert_row<F: Float>(src: ndarray::ArrayView1<'_, u8>, mut dst: ndarray::ArrayViewMut1<'_, F>) {
    let scale = F::of(255.0);
    let convert = |s: u8| F::of(f64::from(s)) / scale;
    match (src.as_slice(), dst.as_slice_mut()) {
        (Some(src), Some(dst)) => {
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = convert(s);
            }
        }
        _ => dst.zip_mut_with(&src, |d, &s| *d = convert(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn every_byte_converts_to_its_correctly_rounded_quotient() {
        let bytes = ndarray::Array1::from_iter(0..=255u8);
        let mut f32s = ndarray::Array1::<f32>::zeros(256);
        let mut f64s = ndarray::Array1::<f64>::zeros(256);
        convert_row(bytes.view(), f32s.view_mut());
        convert_row(bytes.view(), f64s.view_mut());
        for b in 0..=255u8 {
            let exact = f64::from(b) / 255.0;
            assert_eq!(f64s[usize::from(b)], exact);
            assert_eq!(f32s[usize::from(b)], exact as f32, "byte {b}");
        }
    }

    #[test]
    fn gather_scales_and_reuses_the_buffer() {
        let images = array![[0u8, 255, 51], [102, 0, 255], [255, 255, 0]];
        let labels = [2u8, 0, 1];
        let split = SplitView::new(images.view(), &labels).unwrap();
        let mut buf = BatchBuffer::<f64>::new();
        buf.gather(&split, &[2, 0, 0]).unwrap();
        assert_eq!(
            buf.x(),
            array![[1.0, 1.0, 0.0], [0.0, 1.0, 0.2], [0.0, 1.0, 0.2]]
        );
        assert_eq!(buf.labels(), &[1, 2, 2]);
        let ptr = buf.x().as_ptr();
        buf.gather(&split, &[1, 1, 2]).unwrap();
        assert!(buf.gather(&split, &[0, 3]).is_err());
        assert_eq!(buf.x().as_ptr(), ptr, "same-size batches reuse the buffer");
        buf.load(&split.slice(1, 10));
        assert_eq!(buf.x(), array![[0.4, 0.0, 1.0], [1.0, 1.0, 0.0]]);
        assert_eq!(buf.labels(), &[0, 1]);
    }

    #[test]
    fn inconsistent_data_is_an_error() {
        let images = array![[0u8, 1], [2, 3]];
        assert!(SplitView::new(images.view(), &[0]).is_err());
        let ok = SplitView::new(images.view(), &[0, 1]).unwrap();
        let bad_label = SplitView::new(images.view(), &[0, 10]).unwrap();
        let err = TrainData::new(ok, bad_label, 10).unwrap_err();
        assert!(err.to_string().contains("label 10 at row 1"), "{err}");
        let wide = array![[0u8, 1, 2]];
        let wide = SplitView::new(wide.view(), &[0]).unwrap();
        assert!(TrainData::new(ok, wide, 10).is_err());
        assert!(TrainData::new(ok, ok.slice(0, 0), 10).is_err());
        assert!(TrainData::new(ok, ok, 1).is_err());
        TrainData::new(ok, ok, 2).unwrap();
    }
}
