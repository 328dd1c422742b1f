# Peer reference: "Deep Learning from Scratch" ch.5 backprop MNIST trainer, reproduced
# from the seed blog post.
#
# Differences from the seed (all deliberate, none change the math):
#   * softmax / cross_entropy_error come from the book's common/functions.py (the seed imports
#     them from there); reproduced here verbatim.
#   * load_mnist reads the gzip IDX files directly (the book's mnist.py downloads + pickles them);
#     normalize=True -> float32 / 255.0 exactly like the book, one_hot_label=True.
#   * np.random.seed(0) for reproducibility (the seed does NOT seed).
#   * No matplotlib: prints final accuracies and optionally dumps lists to JSON (argv[1]).
#   * ITERS env var overrides iters_num (default 10000) for quick checks.
#   * MNIST_DIR env var overrides the data directory.
#   * numerical_gradient (gradient check only, never used in training) is omitted.
import gzip
import json
import os
import sys
import time
from collections import OrderedDict

import numpy as np

MNIST_DIR = os.environ.get("MNIST_DIR", "data/mnist")


# ---------------------------------------------------------------- common/functions.py (book)
def softmax(x):
    if x.ndim == 2:
        x = x.T
        x = x - np.max(x, axis=0)
        y = np.exp(x) / np.sum(np.exp(x), axis=0)
        return y.T

    x = x - np.max(x)  # オーバーフロー対策
    return np.exp(x) / np.sum(np.exp(x))


def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)

    # 教師データがone-hot-vectorの場合、正解ラベルのインデックスに変換
    if t.size == y.size:
        t = t.argmax(axis=1)

    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


# ---------------------------------------------------------------- dataset/mnist.py (gz IDX)
def _load_img(path):
    with gzip.open(path, "rb") as f:
        data = np.frombuffer(f.read(), np.uint8, offset=16)
    return data.reshape(-1, 784)


def _load_label(path):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=8)


def _change_one_hot_label(X):
    T = np.zeros((X.size, 10))
    for idx, row in enumerate(T):
        row[X[idx]] = 1
    return T


def load_mnist(normalize=True, flatten=True, one_hot_label=False):
    dataset = {
        "train_img": _load_img(os.path.join(MNIST_DIR, "train-images-idx3-ubyte.gz")),
        "train_label": _load_label(os.path.join(MNIST_DIR, "train-labels-idx1-ubyte.gz")),
        "test_img": _load_img(os.path.join(MNIST_DIR, "t10k-images-idx3-ubyte.gz")),
        "test_label": _load_label(os.path.join(MNIST_DIR, "t10k-labels-idx1-ubyte.gz")),
    }
    if normalize:
        for key in ("train_img", "test_img"):
            dataset[key] = dataset[key].astype(np.float32)
            dataset[key] /= 255.0
    if one_hot_label:
        dataset["train_label"] = _change_one_hot_label(dataset["train_label"])
        dataset["test_label"] = _change_one_hot_label(dataset["test_label"])
    if not flatten:
        for key in ("train_img", "test_img"):
            dataset[key] = dataset[key].reshape(-1, 1, 28, 28)
    return (dataset["train_img"], dataset["train_label"]), (dataset["test_img"], dataset["test_label"])


# ---------------------------------------------------------------- layers (seed)
class Affine:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.x = x
        out = np.dot(x, self.W) + self.b
        return out

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        return dx


class Relu:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = (x <= 0)
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0
        dx = dout
        return dout


class Sigmoid:  # defined in the seed, unused by TwoLayerNet
    def __init__(self):
        self.out = None

    def forward(self, x):
        out = 1 / (1 + np.exp(-x))
        self.out = out
        return out

    def backward(self, dout):
        dx = dout * (1.0 - self.out) * self.out
        return dx


class SoftmaxWithLoss:
    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        dx = (self.y - self.t) / batch_size
        return dx


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        self.params = {}
        self.params['W1'] = weight_init_std * np.random.randn(input_size, hidden_size)
        self.params['b1'] = np.zeros(hidden_size)
        self.params['W2'] = weight_init_std * np.random.randn(hidden_size, output_size)
        self.params['b2'] = np.zeros(output_size)

        self.layers = OrderedDict()
        self.layers['Affine1'] = Affine(self.params['W1'], self.params['b1'])
        self.layers['Relu1'] = Relu()
        self.layers['Affine2'] = Affine(self.params['W2'], self.params['b2'])
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        y = self.predict(x)
        return self.lastLayer.forward(y, t)

    def accuracy(self, x, t):
        y = self.predict(x)
        y = np.argmax(y, axis=1)
        if t.ndim != 1: t = np.argmax(t, axis=1)

        accuracy = np.sum(y == t) / float(x.shape[0])
        return accuracy

    def gradient(self, x, t):
        # forward
        self.loss(x, t)

        # backward
        dout = 1
        dout = self.lastLayer.backward(dout)

        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)

        grads = {}
        grads['W1'] = self.layers['Affine1'].dW
        grads['b1'] = self.layers['Affine1'].db
        grads['W2'] = self.layers['Affine2'].dW
        grads['b2'] = self.layers['Affine2'].db
        return grads


# ---------------------------------------------------------------- training (seed)
def main():
    # Not in the seed: fixed seed so runs are reproducible.
    np.random.seed(0)

    t_start = time.perf_counter()
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, one_hot_label=True)
    t_loaded = time.perf_counter()

    network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10)

    train_loss_list = []
    train_acc_list = []
    test_acc_list = []

    iters_num = int(os.environ.get("ITERS", 10000))
    train_size = x_train.shape[0]
    batch_size = 100
    learning_rate = 0.1

    iter_per_epoch = max(train_size / batch_size, 1)

    for i in range(iters_num):
        batch_mask = np.random.choice(train_size, batch_size)
        x_batch = x_train[batch_mask]
        t_batch = t_train[batch_mask]

        grad = network.gradient(x_batch, t_batch)

        for key in ('W1', 'b1', 'W2', 'b2'):
            network.params[key] -= learning_rate * grad[key]

        loss = network.loss(x_batch, t_batch)
        train_loss_list.append(loss)

        if i % iter_per_epoch == 0:
            train_acc = network.accuracy(x_train, t_train)
            test_acc = network.accuracy(x_test, t_test)
            train_acc_list.append(train_acc)
            test_acc_list.append(test_acc)
            print(str(i) + "th: train acc, test acc | " + str(train_acc) + ", " + str(test_acc))

    t_end = time.perf_counter()
    final_train = network.accuracy(x_train, t_train)
    final_test = network.accuracy(x_test, t_test)
    print("final train acc %.4f, final test acc %.4f (after %d iters)" % (final_train, final_test, iters_num))
    print("last logged loss %.6f" % train_loss_list[-1])
    print("wall time: load %.3fs, train+eval %.3fs, total %.3fs"
          % (t_loaded - t_start, t_end - t_loaded, t_end - t_start))

    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            json.dump({
                "iters": iters_num,
                "train_acc_list": [float(a) for a in train_acc_list],
                "test_acc_list": [float(a) for a in test_acc_list],
                "final_train_acc": float(final_train),
                "final_test_acc": float(final_test),
                "train_loss_list": [float(l) for l in train_loss_list],
                "numpy_version": np.__version__,
            }, f)


if __name__ == "__main__":
    main()
