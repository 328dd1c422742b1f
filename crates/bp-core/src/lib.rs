//! Tensor helpers for backprop: softmax, cross-entropy, weight initialisation and numerical gradients on ndarray, generic over f32 and f64.
