//! The training loop of backprop: minibatch SGD, Momentum and Adam, evaluations, history, divergence checks and safetensors checkpoints.
