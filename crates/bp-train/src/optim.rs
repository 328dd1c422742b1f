//! Update rules: [`Sgd`], [`Momentum`] and [`Adam`], as in chapter 6 of the book.
//!
//! An optimizer sees the model only through [`ParamMut`]s (`name`, `value`,
//! `grad`), the way micrograd's optimizers see `parameters()`. Stateful rules keep
//! one state array per parameter, in the order the net lists them.

use bp_core::Float;
use bp_layers::ParamMut;
use ndarray::{ArrayD, Zip};

use crate::config::OptimizerKind;

/// An update rule: moves each parameter against its gradient.
pub trait Optimizer<F: Float>: Send {
    /// Updates every parameter in place from its current gradient.
    fn update(&mut self, params: Vec<ParamMut<'_, F>>);
}

/// Builds the optimizer `kind` with learning rate `lr`.
pub fn build_optimizer<F: Float>(kind: OptimizerKind, lr: f64) -> Box<dyn Optimizer<F>> {
    match kind {
        OptimizerKind::Sgd => Box::new(Sgd::new(lr)),
        OptimizerKind::Momentum { momentum } => Box::new(Momentum::new(lr, momentum)),
        OptimizerKind::Adam { beta1, beta2 } => Box::new(Adam::new(lr, beta1, beta2)),
    }
}

/// Plain stochastic gradient descent: `W -= lr * dW` (the seed's update).
#[derive(Debug, Clone)]
pub struct Sgd<F> {
    lr: F,
}

impl<F: Float> Sgd<F> {
    /// SGD with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Self { lr: F::of(lr) }
    }
}

impl<F: Float> Optimizer<F> for Sgd<F> {
    fn update(&mut self, params: Vec<ParamMut<'_, F>>) {
        let lr = self.lr;
        for mut p in params {
            if let (Some(w), Some(g)) = (p.value.as_slice_mut(), p.grad.as_slice()) {
                crate::vector::scaled_add(w, -lr, g);
            } else {
                p.value.scaled_add(-lr, &p.grad);
            }
        }
    }
}

/// Momentum SGD: `v = momentum * v - lr * dW; W += v` (velocities start at zero).
#[derive(Debug, Clone)]
pub struct Momentum<F> {
    lr: F,
    momentum: F,
    v: Vec<ArrayD<F>>,
}

impl<F: Float> Momentum<F> {
    /// Momentum SGD with learning rate `lr` and momentum `momentum` (the book: 0.9).
    pub fn new(lr: f64, momentum: f64) -> Self {
        Self {
            lr: F::of(lr),
            momentum: F::of(momentum),
            v: Vec::new(),
        }
    }
}

/// Makes `state` one zero array per parameter, shaped like it, unless it already is.
fn ensure_state<F: Float>(state: &mut Vec<ArrayD<F>>, params: &[ParamMut<'_, F>]) {
    let fits = state.len() == params.len()
        && state
            .iter()
            .zip(params)
            .all(|(s, p)| s.shape() == p.value.shape());
    if !fits {
        *state = params
            .iter()
            .map(|p| ArrayD::zeros(p.value.raw_dim()))
            .collect();
    }
}

impl<F: Float> Optimizer<F> for Momentum<F> {
    fn update(&mut self, mut params: Vec<ParamMut<'_, F>>) {
        ensure_state(&mut self.v, &params);
        let (lr, mu) = (self.lr, self.momentum);
        for (p, v) in params.iter_mut().zip(&mut self.v) {
            Zip::from(&mut p.value)
                .and(v)
                .and(&p.grad)
                .for_each(|w, v, &g| {
                    *v = mu * *v - lr * g;
                    *w += *v;
                });
        }
    }
}

/// Adam (Kingma & Ba), in the book's form: with `t` the step count,
/// `lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)`, `m += (1 - beta1)(g - m)`,
/// `v += (1 - beta2)(g² - v)`, `W -= lr_t * m / (sqrt(v) + 1e-7)`.
#[derive(Debug, Clone)]
pub struct Adam<F> {
    lr: f64,
    beta1: f64,
    beta2: f64,
    t: i32,
    m: Vec<ArrayD<F>>,
    v: Vec<ArrayD<F>>,
}

impl<F: Float> Adam<F> {
    /// Adam with learning rate `lr` (the book: 0.001) and decays `beta1`, `beta2`
    /// (the book: 0.9, 0.999).
    pub fn new(lr: f64, beta1: f64, beta2: f64) -> Self {
        Self {
            lr,
            beta1,
            beta2,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }
}

impl<F: Float> Optimizer<F> for Adam<F> {
    fn update(&mut self, mut params: Vec<ParamMut<'_, F>>) {
        ensure_state(&mut self.m, &params);
        ensure_state(&mut self.v, &params);
        self.t = self.t.saturating_add(1);
        // The bias correction is computed in f64: beta2^t is too close to 1 for f32 early on.
        let lr_t =
            self.lr * (1.0 - self.beta2.powi(self.t)).sqrt() / (1.0 - self.beta1.powi(self.t));
        let (lr_t, b1, b2) = (
            F::of(lr_t),
            F::of(1.0 - self.beta1),
            F::of(1.0 - self.beta2),
        );
        let eps = F::of(1e-7);
        for ((p, m), v) in params.iter_mut().zip(&mut self.m).zip(&mut self.v) {
            Zip::from(&mut p.value)
                .and(m)
                .and(v)
                .and(&p.grad)
                .for_each(|w, m, v, &g| {
                    *m += b1 * (g - *m);
                    *v += b2 * (g * g - *v);
                    *w -= lr_t * *m / (v.sqrt() + eps);
                });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array1, ArrayViewD};

    /// Minimises `f(w) = 0.5 * sum(a_i * (w_i - c_i)^2)` (gradient `a * (w - c)`)
    /// and returns the final `w`.
    fn minimise(opt: &mut dyn Optimizer<f64>, steps: usize) -> Array1<f64> {
        let a = array![1.0, 10.0];
        let c = array![3.0, -2.0];
        let mut w = array![0.0, 0.0];
        let mut g = Array1::zeros(2);
        for _ in 0..steps {
            g.assign(&(&a * &(&w - &c)));
            let param = ParamMut {
                name: "w",
                value: w.view_mut().into_dyn(),
                grad: ArrayViewD::from(g.view().into_dyn()),
            };
            opt.update(vec![param]);
        }
        w
    }

    fn assert_near_minimum(w: &Array1<f64>, tol: f64, what: &str) {
        assert!(
            (w[0] - 3.0).abs() < tol && (w[1] + 2.0).abs() < tol,
            "{what}: {w}"
        );
    }

    #[test]
    fn sgd_step_is_lr_times_gradient() {
        // One step from w = 0: g = a * (0 - c) = [-3, 20], so w = -0.05 * g.
        let w = minimise(&mut Sgd::new(0.05), 1);
        assert!(
            (w[0] - 0.15).abs() < 1e-12 && (w[1] + 1.0).abs() < 1e-12,
            "{w}"
        );
    }

    #[test]
    fn every_optimizer_minimises_a_quadratic() {
        assert_near_minimum(&minimise(&mut Sgd::new(0.05), 500), 1e-6, "sgd");
        assert_near_minimum(
            &minimise(&mut Momentum::new(0.02, 0.9), 500),
            1e-6,
            "momentum",
        );
        assert_near_minimum(
            &minimise(&mut Adam::new(0.1, 0.9, 0.999), 2000),
            1e-3,
            "adam",
        );
        for kind in [
            OptimizerKind::Sgd,
            OptimizerKind::MOMENTUM,
            OptimizerKind::ADAM,
        ] {
            let mut opt = build_optimizer::<f64>(kind, kind.default_lr());
            let w = minimise(opt.as_mut(), 10_000);
            assert_near_minimum(&w, 1e-2, kind.name());
        }
    }

    #[test]
    fn momentum_accumulates_velocity() {
        // Gradient [-3, 20] at w = 0; after one step v = -lr * g; after the second,
        // v = 0.9 v - lr * g(w1).
        let w1 = minimise(&mut Momentum::new(0.01, 0.9), 1);
        assert!(
            (w1[0] - 0.03).abs() < 1e-12 && (w1[1] + 0.2).abs() < 1e-12,
            "{w1}"
        );
        let w2 = minimise(&mut Momentum::new(0.01, 0.9), 2);
        let g2 = [1.0 * (0.03 - 3.0), 10.0 * (-0.2 + 2.0)];
        let v2 = [0.9 * 0.03 - 0.01 * g2[0], 0.9 * -0.2 - 0.01 * g2[1]];
        assert!((w2[0] - (0.03 + v2[0])).abs() < 1e-12, "{w2}");
        assert!((w2[1] - (-0.2 + v2[1])).abs() < 1e-12, "{w2}");
    }

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        // At t = 1, m = 0.1 g, v = 0.001 g², lr_t = lr * sqrt(0.001) / 0.1, so the
        // step is lr * g / (|g| + 1e-7 / sqrt(0.001)) ≈ lr * sign(g).
        let w = minimise(&mut Adam::new(0.001, 0.9, 0.999), 1);
        assert!(
            (w[0] - 0.001).abs() < 1e-8 && (w[1] + 0.001).abs() < 1e-8,
            "{w}"
        );
    }

    #[test]
    fn f32_optimizers_work_too() {
        let mut w = array![1.0_f32, -1.0];
        let g = array![0.5_f32, 0.25];
        let mut opt = build_optimizer::<f32>(OptimizerKind::Sgd, 0.1);
        opt.update(vec![ParamMut {
            name: "w",
            value: w.view_mut().into_dyn(),
            grad: g.view().into_dyn(),
        }]);
        assert_eq!(w, array![0.95_f32, -1.025]);
    }
}
