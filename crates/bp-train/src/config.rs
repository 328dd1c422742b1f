//! What a run is: [`TrainConfig`] and its choices ([`OptimizerKind`], [`Sampling`],
//! [`Precision`]).

use std::fmt;
use std::str::FromStr;

use bp_layers::Activation;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// The seed used when the caller gives none. Any seed works: the recipe is not
/// tuned to it.
pub const DEFAULT_SEED: u64 = 0;

/// The settings of a training run. [`Default`] is the seed's recipe: 10000
/// iterations of batch 100, SGD with learning rate 0.1, one hidden layer of 50
/// ReLU units, weights drawn from `N(0, 0.01²)`, minibatches drawn with replacement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Number of parameter updates.
    pub iters: usize,
    /// Examples per minibatch.
    pub batch_size: usize,
    /// Learning rate of the optimizer.
    pub lr: f64,
    /// Widths of the hidden layers (the seed: `[50]`).
    pub hidden: Vec<usize>,
    /// Standard deviation of the initial weights (biases start at zero).
    pub weight_init_std: f64,
    /// Activation between Affine layers.
    #[serde(with = "activation_serde")]
    pub activation: Activation,
    /// Update rule.
    pub optimizer: OptimizerKind,
    /// How minibatches are drawn.
    pub sampling: Sampling,
    /// Seeds the generator that fixes the initial weights and the batch order.
    pub seed: u64,
    /// Iterations between evaluations, counted from iteration 0: `None` for
    /// the seed's schedule (once per epoch), `Some(0)` for none but the final
    /// net's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_every: Option<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            iters: 10_000,
            batch_size: 100,
            lr: 0.1,
            hidden: vec![50],
            weight_init_std: 0.01,
            activation: Activation::Relu,
            optimizer: OptimizerKind::Sgd,
            sampling: Sampling::WithReplacement,
            seed: DEFAULT_SEED,
            eval_every: None,
        }
    }
}

impl TrainConfig {
    /// Checks every setting on its own (the data-dependent checks happen in
    /// [`Trainer::new`](crate::Trainer::new)).
    pub fn validate(&self) -> Result<()> {
        if self.iters == 0 {
            return Err(TrainError::config("iters must be at least 1"));
        }
        if self.batch_size == 0 {
            return Err(TrainError::config("batch size must be at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(TrainError::config(format!(
                "learning rate must be finite and > 0, got {}",
                self.lr
            )));
        }
        if let Some(pos) = self.hidden.iter().position(|&h| h == 0) {
            return Err(TrainError::config(format!(
                "hidden layer sizes must be at least 1, got {:?} (0 at position {pos})",
                self.hidden
            )));
        }
        if !(self.weight_init_std.is_finite() && self.weight_init_std >= 0.0) {
            return Err(TrainError::config(format!(
                "weight init std must be finite and >= 0, got {}",
                self.weight_init_std
            )));
        }
        self.optimizer.validate()
    }

    /// Iterations per epoch, as the seed computes it:
    /// `max(train_size / batch_size, 1)`.
    pub fn epoch_len(&self, train_size: usize) -> usize {
        (train_size / self.batch_size.max(1)).max(1)
    }

    /// Iterations between evaluations: [`TrainConfig::eval_every`], else one
    /// epoch (the seed). 0: no evaluation before the final one.
    pub fn eval_every(&self, train_size: usize) -> usize {
        self.eval_every
            .unwrap_or_else(|| self.epoch_len(train_size))
    }

    /// The iterations after whose update the model is evaluated: 0 and every
    /// [`eval_every`](Self::eval_every) iterations below `iters` (none when
    /// that is 0).
    pub fn eval_iterations(&self, train_size: usize) -> impl Iterator<Item = usize> {
        let every = self.eval_every(train_size);
        let end = if every == 0 { 0 } else { self.iters };
        (0..end).step_by(every.max(1))
    }

    /// Layer widths of the net this config builds: `[input, hidden..., classes]`.
    pub fn layer_sizes(&self, input: usize, classes: usize) -> Vec<usize> {
        std::iter::once(input)
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(classes))
            .collect()
    }
}

mod activation_serde {
    use bp_layers::Activation;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(a: &Activation, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(a.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Activation, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The update rule, with its own hyperparameters (the learning rate is
/// [`TrainConfig::lr`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Plain SGD, `W -= lr * dW` (the seed).
    Sgd,
    /// Momentum SGD: `v = momentum * v - lr * dW; W += v`.
    Momentum {
        /// Fraction of the previous step kept (the book: 0.9).
        momentum: f64,
    },
    /// Adam, as in the book's chapter 6 (bias-corrected learning rate, `eps = 1e-7`).
    Adam {
        /// Decay of the first moment (the book: 0.9).
        beta1: f64,
        /// Decay of the second moment (the book: 0.999).
        beta2: f64,
    },
}

impl OptimizerKind {
    /// Momentum with the book's `momentum = 0.9`.
    pub const MOMENTUM: OptimizerKind = OptimizerKind::Momentum { momentum: 0.9 };
    /// Adam with the book's `beta1 = 0.9`, `beta2 = 0.999`.
    pub const ADAM: OptimizerKind = OptimizerKind::Adam {
        beta1: 0.9,
        beta2: 0.999,
    };

    /// Lower-case name: `sgd`, `momentum` or `adam`.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum { .. } => "momentum",
            OptimizerKind::Adam { .. } => "adam",
        }
    }

    /// The learning rate to use when none is given: 0.1 for SGD (the seed's),
    /// 0.01 for Momentum and 0.001 for Adam (the book's chapter 6 defaults).
    pub fn default_lr(&self) -> f64 {
        match self {
            OptimizerKind::Sgd => 0.1,
            OptimizerKind::Momentum { .. } => 0.01,
            OptimizerKind::Adam { .. } => 0.001,
        }
    }

    /// Checks the hyperparameters (each decay in `[0, 1)`).
    pub fn validate(&self) -> Result<()> {
        let check = |what: &str, v: f64| {
            if (0.0..1.0).contains(&v) {
                Ok(())
            } else {
                Err(TrainError::config(format!(
                    "{what} must be in [0, 1), got {v}"
                )))
            }
        };
        match *self {
            OptimizerKind::Sgd => Ok(()),
            OptimizerKind::Momentum { momentum } => check("momentum", momentum),
            OptimizerKind::Adam { beta1, beta2 } => {
                check("beta1", beta1)?;
                check("beta2", beta2)
            }
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimizerKind {
    type Err = TrainError;

    /// Parses `sgd`, `momentum` or `adam`, with the book's hyperparameters.
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sgd" => Ok(OptimizerKind::Sgd),
            "momentum" => Ok(OptimizerKind::MOMENTUM),
            "adam" => Ok(OptimizerKind::ADAM),
            _ => Err(TrainError::config(format!(
                "unknown optimizer {s:?} (expected sgd, momentum or adam)"
            ))),
        }
    }
}

/// How each minibatch's examples are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sampling {
    /// Independently and uniformly, with replacement, every iteration: the seed's
    /// `np.random.choice(train_size, batch_size)`.
    #[default]
    WithReplacement,
    /// Shuffled epochs: a fresh permutation of the training set is cut into
    /// batches; the last `train_size % batch_size` examples of each permutation
    /// are skipped, so every batch has the same size.
    ShuffledEpochs,
}

impl Sampling {
    /// Name as on the command line: `with-replacement` or `shuffled-epochs`.
    pub fn name(&self) -> &'static str {
        match self {
            Sampling::WithReplacement => "with-replacement",
            Sampling::ShuffledEpochs => "shuffled-epochs",
        }
    }
}

impl fmt::Display for Sampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Sampling {
    type Err = TrainError;

    /// Parses `with-replacement` (or `replacement`) and `shuffled-epochs` (or `epochs`).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "with-replacement" | "replacement" => Ok(Sampling::WithReplacement),
            "shuffled-epochs" | "epochs" | "shuffle" => Ok(Sampling::ShuffledEpochs),
            _ => Err(TrainError::config(format!(
                "unknown sampling {s:?} (expected with-replacement or shuffled-epochs)"
            ))),
        }
    }
}

/// The float type a run computes in, chosen at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// `f32` (the default).
    #[default]
    F32,
    /// `f64`.
    F64,
}

impl Precision {
    /// Lower-case name: `f32` or `f64`.
    pub fn name(&self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }

    /// The safetensors dtype name, as [`bp_core::Float::DTYPE`]: `F32` or `F64`.
    pub fn dtype(&self) -> &'static str {
        match self {
            Precision::F32 => "F32",
            Precision::F64 => "F64",
        }
    }

    /// The precision of the float type `F`.
    pub fn of<F: bp_core::Float>() -> Precision {
        if F::DTYPE == "F64" {
            Precision::F64
        } else {
            Precision::F32
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = TrainError;

    /// Parses `f32` or `f64` (also `F32`, `F64`).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" => Ok(Precision::F32),
            "f64" => Ok(Precision::F64),
            _ => Err(TrainError::config(format!(
                "unknown precision {s:?} (expected f32 or f64)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_has_17_evaluations() {
        let c = TrainConfig::default();
        let iters: Vec<usize> = c.eval_iterations(60_000).collect();
        assert_eq!(c.eval_every(60_000), 600);
        assert_eq!(iters.len(), 17);
        assert_eq!(iters[0], 0);
        assert_eq!(iters[16], 9600);
        // A training set smaller than a batch evaluates after every step.
        let small = TrainConfig {
            iters: 5,
            ..TrainConfig::default()
        };
        assert_eq!(small.eval_every(30), 1);
        assert_eq!(small.eval_iterations(30).count(), 5);
    }

    #[test]
    fn a_chosen_schedule_replaces_the_epochs() {
        let every = |n| TrainConfig {
            iters: 1000,
            eval_every: Some(n),
            ..TrainConfig::default()
        };
        let at: Vec<usize> = every(300).eval_iterations(60_000).collect();
        assert_eq!(at, [0, 300, 600, 900]);
        assert_eq!(every(300).epoch_len(60_000), 600, "epochs stay epochs");
        assert_eq!(every(0).eval_iterations(60_000).count(), 0);
        assert_eq!(every(5000).eval_iterations(60_000).count(), 1);
        every(0).validate().unwrap();
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let bad = [
            TrainConfig {
                batch_size: 0,
                ..Default::default()
            },
            TrainConfig {
                lr: 0.0,
                ..Default::default()
            },
            TrainConfig {
                lr: f64::NAN,
                ..Default::default()
            },
            TrainConfig {
                hidden: vec![50, 0],
                ..Default::default()
            },
            TrainConfig {
                iters: 0,
                ..Default::default()
            },
            TrainConfig {
                weight_init_std: -1.0,
                ..Default::default()
            },
            TrainConfig {
                optimizer: OptimizerKind::Momentum { momentum: 1.0 },
                ..Default::default()
            },
        ];
        for c in bad {
            assert!(matches!(c.validate(), Err(TrainError::Config(_))), "{c:?}");
        }
        TrainConfig::default().validate().unwrap();
    }

    #[test]
    fn names_parse_and_serialize() {
        assert_eq!(
            "adam".parse::<OptimizerKind>().unwrap(),
            OptimizerKind::ADAM
        );
        assert_eq!("SGD".parse::<OptimizerKind>().unwrap(), OptimizerKind::Sgd);
        assert!("rmsprop".parse::<OptimizerKind>().is_err());
        assert_eq!("f64".parse::<Precision>().unwrap(), Precision::F64);
        assert_eq!(Precision::of::<f32>(), Precision::F32);
        assert_eq!(
            "epochs".parse::<Sampling>().unwrap(),
            Sampling::ShuffledEpochs
        );
        let c = TrainConfig {
            optimizer: OptimizerKind::ADAM,
            activation: Activation::Sigmoid,
            ..Default::default()
        };
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains(r#""activation":"sigmoid""#), "{json}");
        assert!(json.contains(r#""kind":"adam""#), "{json}");
        assert!(json.contains(r#""sampling":"with-replacement""#), "{json}");
        let back: TrainConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        // The seed's schedule is not written, so older configs read the same.
        assert!(!json.contains("eval_every"), "{json}");
        let every = TrainConfig {
            eval_every: Some(0),
            ..c
        };
        let json = serde_json::to_string(&every).unwrap();
        assert_eq!(serde_json::from_str::<TrainConfig>(&json).unwrap(), every);
    }
}
