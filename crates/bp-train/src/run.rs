//! One value for a whole run ([`RunConfig`]) and the run it describes
//! ([`run`]): the one place that turns the precision chosen at run time into a
//! float type, so callers never match on it.

use std::path::Path;

use bp_core::Float;
use bp_layers::MultiLayerNet;

use crate::checkpoint::save_checkpoint;
use crate::config::{Precision, TrainConfig};
use crate::data::TrainData;
use crate::error::Result;
use crate::input::InputPath;
use crate::trainer::{History, Observer, Trainer};

/// Everything a training run needs besides its data: the recipe (with its
/// evaluation schedule, [`TrainConfig::eval_every`]), the float type and how the
/// first layer reads its inputs. The default is the seed's run in `f32` with
/// the input path picked from the data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunConfig {
    /// The recipe: iterations, batch, learning rate, layers, seed, evaluations.
    pub train: TrainConfig,
    /// The float type the net is trained in.
    pub precision: Precision,
    /// Dense or sparse first layer ([`InputPath::Auto`]: from the data's density).
    pub input_path: InputPath,
}

impl RunConfig {
    /// The run `train` describes, in `f32`, with the input path picked from the data.
    pub fn new(train: TrainConfig) -> Self {
        Self {
            train,
            ..Self::default()
        }
    }

    /// Sets the float type.
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Sets the first layer's input path.
    pub fn with_input_path(mut self, input_path: InputPath) -> Self {
        self.input_path = input_path;
        self
    }

    /// Sets the evaluation schedule (see [`TrainConfig::eval_every`]).
    pub fn with_eval_every(mut self, every: Option<usize>) -> Self {
        self.train.eval_every = every;
        self
    }
}

/// A trained net, in the float type it was trained in.
#[derive(Debug, Clone)]
pub enum TrainedNet {
    /// Trained in `f32`.
    F32(MultiLayerNet<f32>),
    /// Trained in `f64`.
    F64(MultiLayerNet<f64>),
}

impl TrainedNet {
    /// The float type of the weights.
    pub fn precision(&self) -> Precision {
        match self {
            TrainedNet::F32(_) => Precision::F32,
            TrainedNet::F64(_) => Precision::F64,
        }
    }

    /// Writes the net and `config` as a checkpoint ([`save_checkpoint`]).
    pub fn save_checkpoint(&self, path: &Path, config: &TrainConfig) -> Result<()> {
        match self {
            TrainedNet::F32(net) => save_checkpoint(path, net, config),
            TrainedNet::F64(net) => save_checkpoint(path, net, config),
        }
    }
}

/// What [`run`] returns: the history, the net and the input path it used.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Loss curve, evaluations, gradient norms and timings.
    pub history: History,
    /// The net after the last iteration.
    pub net: TrainedNet,
    /// The input path the run used ([`InputPath::Auto`] resolved).
    pub input_path: InputPath,
}

/// Trains on `data` as `config` says ([`Trainer::run`] in its float type),
/// reporting to `observer`.
pub fn run(
    config: &RunConfig,
    data: TrainData<'_>,
    observer: &mut dyn Observer,
) -> Result<RunOutcome> {
    match config.precision {
        Precision::F32 => typed::<f32>(config, data, observer, TrainedNet::F32),
        Precision::F64 => typed::<f64>(config, data, observer, TrainedNet::F64),
    }
}

fn typed<F: Float>(
    config: &RunConfig,
    data: TrainData<'_>,
    observer: &mut dyn Observer,
    wrap: fn(MultiLayerNet<F>) -> TrainedNet,
) -> Result<RunOutcome> {
    let trainer = Trainer::<F>::with_input_path(&config.train, data, config.input_path)?;
    let input_path = trainer.input_path();
    let trained = trainer.run(observer)?;
    Ok(RunOutcome {
        history: trained.history,
        net: wrap(trained.net),
        input_path,
    })
}
