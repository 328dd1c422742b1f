//! Layers with explicit forward and backward passes (Mul, Add, ReLU, Sigmoid, Affine, SoftmaxWithLoss) and the two-layer net of Deep Learning from Scratch, chapter 5.
