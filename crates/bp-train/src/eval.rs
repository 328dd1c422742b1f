//! Evaluation: the net's predictions on a whole split, as a [`ConfusionMatrix`].
//!
//! The split is read straight from `u8` in chunks of [`EVAL_CHUNK`] rows (one
//! reused float buffer per thread), so no float copy of the whole set is made.

use std::fmt;

use bp_core::{argmax_rows, Float};
use bp_layers::MultiLayerNet;

use crate::data::{BatchBuffer, SplitView};
use crate::error::{Result, TrainError};

/// Rows converted and predicted at a time during evaluation.
pub const EVAL_CHUNK: usize = 500;

/// Counts of (actual class, predicted class) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix {
    classes: usize,
    /// Row-major `classes x classes`: `counts[actual * classes + predicted]`.
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An all-zero matrix for `classes` classes.
    pub fn new(classes: usize) -> Self {
        Self {
            classes,
            counts: vec![0; classes * classes],
        }
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// How many examples of class `actual` were predicted as `predicted`
    /// (0 for classes outside the matrix).
    pub fn get(&self, actual: usize, predicted: usize) -> u64 {
        self.index(actual, predicted).map_or(0, |i| self.counts[i])
    }

    /// Counts one example; a class outside the matrix is an error.
    pub fn add(&mut self, actual: usize, predicted: usize) -> Result<()> {
        let i = self.index(actual, predicted).ok_or_else(|| {
            TrainError::data(format!(
                "class pair ({actual}, {predicted}) is outside a {0}x{0} confusion matrix",
                self.classes
            ))
        })?;
        self.counts[i] += 1;
        Ok(())
    }

    fn index(&self, actual: usize, predicted: usize) -> Option<usize> {
        (actual < self.classes && predicted < self.classes)
            .then_some(actual * self.classes + predicted)
    }

    /// Adds another matrix's counts to this one (same class count).
    pub fn merge(&mut self, other: &ConfusionMatrix) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// Number of examples counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Number of examples predicted correctly (the diagonal).
    pub fn correct(&self) -> u64 {
        (0..self.classes).map(|k| self.get(k, k)).sum()
    }

    /// Fraction predicted correctly (0 for an empty matrix).
    pub fn accuracy(&self) -> f64 {
        match self.total() {
            0 => 0.0,
            n => self.correct() as f64 / n as f64,
        }
    }

    /// Row `actual`: how examples of that class were predicted (empty outside the matrix).
    pub fn row(&self, actual: usize) -> &[u64] {
        if actual >= self.classes {
            return &[];
        }
        &self.counts[actual * self.classes..(actual + 1) * self.classes]
    }
}

impl fmt::Display for ConfusionMatrix {
    /// A table with actual classes as rows and predicted classes as columns.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .counts
            .iter()
            .max()
            .map_or(1, |m| m.to_string().len())
            .max(self.classes.saturating_sub(1).to_string().len())
            .max(2);
        write!(f, "{:>w$} |", "", w = width.max(6))?;
        for p in 0..self.classes {
            write!(f, " {p:>width$}")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{}-+{}",
            "-".repeat(width.max(6)),
            "-".repeat((width + 1) * self.classes)
        )?;
        for a in 0..self.classes {
            write!(f, "{a:>w$} |", w = width.max(6))?;
            for &n in self.row(a) {
                write!(f, " {n:>width$}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// How many threads evaluations use by default: 2, or 1 on a single-core machine.
pub fn default_eval_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(2)
}

/// Predicts every example of `split` and counts (actual, predicted) pairs.
///
/// The rows are divided among `threads` scoped threads (at least 1), each
/// converting chunks of [`EVAL_CHUNK`] rows into its own buffer; the counts do
/// not depend on the number of threads.
pub fn confusion_matrix<F: Float>(
    net: &MultiLayerNet<F>,
    split: &SplitView<'_>,
    classes: usize,
    threads: usize,
) -> Result<ConfusionMatrix> {
    if net.input_size() != split.width() {
        return Err(TrainError::data(format!(
            "the model takes {} inputs but the images have {} pixels",
            net.input_size(),
            split.width()
        )));
    }
    if net.output_size() != classes {
        return Err(TrainError::data(format!(
            "the model has {} outputs but the data set has {classes} classes",
            net.output_size()
        )));
    }
    if let Some((row, &l)) = split
        .labels
        .iter()
        .enumerate()
        .find(|(_, &l)| usize::from(l) >= classes)
    {
        return Err(TrainError::data(format!(
            "label {l} at row {row} is out of range for {classes} classes"
        )));
    }
    let n = split.len();
    let threads = threads.clamp(1, n.div_ceil(EVAL_CHUNK).max(1));
    let per_thread = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let part = split.slice(t * per_thread, (t + 1) * per_thread);
                // `predict` runs the layers' forward passes, which cache: a copy each.
                let mut net = net.clone();
                s.spawn(move || count_range(&mut net, &part, classes))
            })
            .collect();
        let mut total = ConfusionMatrix::new(classes);
        for h in handles {
            let part = h
                .join()
                .map_err(|_| TrainError::thread("an evaluation thread panicked"))??;
            total.merge(&part);
        }
        Ok(total)
    })
}

/// The class the net predicts for each example of `split`, in order; the rows
/// are divided among `threads` threads as in [`confusion_matrix`] (the result
/// does not depend on their number).
pub fn predictions<F: Float>(
    net: &MultiLayerNet<F>,
    split: &SplitView<'_>,
    threads: usize,
) -> Result<Vec<usize>> {
    if net.input_size() != split.width() {
        return Err(TrainError::data(format!(
            "the model takes {} inputs but the images have {} pixels",
            net.input_size(),
            split.width()
        )));
    }
    let n = split.len();
    let threads = threads.clamp(1, n.div_ceil(EVAL_CHUNK).max(1));
    let per_thread = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (1..threads)
            .map(|t| {
                let part = split.slice(t * per_thread, (t + 1) * per_thread);
                let mut net = net.clone();
                s.spawn(move || predict_range(&mut net, &part))
            })
            .collect();
        let mut all = predict_range(&mut net.clone(), &split.slice(0, per_thread))?;
        for h in handles {
            let part = h
                .join()
                .map_err(|_| TrainError::thread("an evaluation thread panicked"))??;
            all.extend(part);
        }
        Ok(all)
    })
}

/// One thread's share of [`predictions`]: chunk by chunk, convert, predict.
fn predict_range<F: Float>(
    net: &mut MultiLayerNet<F>,
    split: &SplitView<'_>,
) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(split.len());
    let mut buf = BatchBuffer::<F>::new();
    let mut start = 0;
    while start < split.len() {
        buf.load(&split.slice(start, start + EVAL_CHUNK));
        out.extend(argmax_rows(net.predict(buf.x())?.view()));
        start += EVAL_CHUNK;
    }
    Ok(out)
}

/// Fraction of `split` the net classifies correctly (see [`confusion_matrix`]).
pub fn accuracy<F: Float>(
    net: &MultiLayerNet<F>,
    split: &SplitView<'_>,
    classes: usize,
    threads: usize,
) -> Result<f64> {
    Ok(confusion_matrix(net, split, classes, threads)?.accuracy())
}

/// One thread's share: chunk by chunk, convert, predict, count.
pub(crate) fn count_range<F: Float>(
    net: &mut MultiLayerNet<F>,
    split: &SplitView<'_>,
    classes: usize,
) -> Result<ConfusionMatrix> {
    let mut cm = ConfusionMatrix::new(classes);
    let mut buf = BatchBuffer::<F>::new();
    let mut start = 0;
    while start < split.len() {
        let chunk = split.slice(start, start + EVAL_CHUNK);
        buf.load(&chunk);
        let scores = net.predict(buf.x())?;
        for (&actual, predicted) in buf.labels().iter().zip(argmax_rows(scores.view())) {
            cm.add(actual, predicted)?;
        }
        start += EVAL_CHUNK;
    }
    Ok(cm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_matrix_counts_and_prints() {
        let mut cm = ConfusionMatrix::new(3);
        for (a, p) in [(0, 0), (0, 0), (1, 2), (2, 2), (1, 1)] {
            cm.add(a, p).unwrap();
        }
        assert_eq!(cm.total(), 5);
        assert_eq!(cm.correct(), 4);
        assert!((cm.accuracy() - 0.8).abs() < 1e-12);
        assert_eq!(cm.row(1), &[0, 1, 1]);
        let text = cm.to_string();
        assert_eq!(text.lines().count(), 5, "{text}");
        assert!(text.lines().nth(3).unwrap().ends_with(" 0  1  1"), "{text}");
        assert_eq!(ConfusionMatrix::new(2).accuracy(), 0.0);
        assert!(cm.add(3, 0).is_err());
        assert_eq!(cm.get(0, 9), 0);
        assert!(cm.row(5).is_empty());
    }
}
