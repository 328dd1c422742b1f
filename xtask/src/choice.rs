//! The options whose values are names: clap enums, so that `--help` lists the
//! possible values and a wrong one is refused with them. Each maps to the
//! library type it names.

use bp_layers::Activation;
use bp_train::{InputPath, OptimizerKind, Precision, Sampling};

/// `--activation`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivationName {
    /// ReLU, the book's choice.
    Relu,
    /// The sigmoid.
    Sigmoid,
}

impl From<ActivationName> for Activation {
    fn from(a: ActivationName) -> Activation {
        match a {
            ActivationName::Relu => Activation::Relu,
            ActivationName::Sigmoid => Activation::Sigmoid,
        }
    }
}

/// `--optimizer`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerName {
    /// Plain SGD, the seed's.
    Sgd,
    /// Momentum 0.9.
    Momentum,
    /// Adam (0.9, 0.999).
    Adam,
}

impl From<OptimizerName> for OptimizerKind {
    fn from(o: OptimizerName) -> OptimizerKind {
        match o {
            OptimizerName::Sgd => OptimizerKind::Sgd,
            OptimizerName::Momentum => OptimizerKind::MOMENTUM,
            OptimizerName::Adam => OptimizerKind::ADAM,
        }
    }
}

/// `--sampling`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamplingName {
    /// Each batch drawn with replacement, the seed's.
    WithReplacement,
    /// A fresh permutation every epoch.
    ShuffledEpochs,
}

impl From<SamplingName> for Sampling {
    fn from(s: SamplingName) -> Sampling {
        match s {
            SamplingName::WithReplacement => Sampling::WithReplacement,
            SamplingName::ShuffledEpochs => Sampling::ShuffledEpochs,
        }
    }
}

/// `--precision`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrecisionName {
    /// 32-bit floats.
    F32,
    /// 64-bit floats.
    F64,
}

impl From<PrecisionName> for Precision {
    fn from(p: PrecisionName) -> Precision {
        match p {
            PrecisionName::F32 => Precision::F32,
            PrecisionName::F64 => Precision::F64,
        }
    }
}

/// `--input-path`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputPathName {
    /// Sparse when at most 35% of the training pixels are non-zero (MNIST), else dense.
    Auto,
    /// The book's dense products.
    Dense,
    /// The first layer on the non-zero pixels only.
    Sparse,
}

impl From<InputPathName> for InputPath {
    fn from(p: InputPathName) -> InputPath {
        match p {
            InputPathName::Auto => InputPath::Auto,
            InputPathName::Dense => InputPath::Dense,
            InputPathName::Sparse => InputPath::Sparse,
        }
    }
}
