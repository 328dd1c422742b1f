//! burn peer for the "Deep Learning from Scratch" ch.5 MNIST job.
//!
//! MLP 784-50(ReLU)-10, W ~ N(0, 0.01^2), b = 0, softmax cross-entropy (burn's
//! log_softmax-based CrossEntropyLoss: same gradient (y - t)/N as the book; the book's loss value
//! adds +1e-7 inside the log, which only changes the *reported* loss by <= ~1e-7 relative),
//! plain SGD lr 0.1 (burn-optim `Sgd`, no momentum / decay), batch 100 drawn with replacement,
//! ITERS (default 10000) iterations, accuracy on all 60000 train + 10000 test images at i % 600 == 0
//! (17 evaluations for 10000 iterations), and, like the seed, a second forward pass after each
//! update to log the batch loss.
//!
//! usage: burn_peer [MNIST_DIR] [OUT_JSON]
//!   MNIST_DIR defaults to data/mnist (gzip IDX files, as `cargo xtask fetch-mnist` leaves them), from the repository root.
//! backend: cargo feature `flex` (default) or `ndarray` (`--no-default-features --features ndarray`).

use std::io::Read;
use std::time::Instant;

use burn::module::{Module, Param};
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::nn::{Linear, Relu};
use burn::optim::{GradientsParams, SgdConfig};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};

#[derive(Module, Debug)]
struct TwoLayerNet {
    affine1: Linear,
    relu1: Relu,
    affine2: Linear,
}

impl TwoLayerNet {
    fn new(input: usize, hidden: usize, output: usize, std: f64, device: &Device) -> Self {
        // Same as the book: W = weight_init_std * randn(...), b = zeros(...).
        let lin = |i: usize, o: usize| Linear {
            weight: Param::from_tensor(Tensor::random([i, o], Distribution::Normal(0.0, std), device)),
            bias: Some(Param::from_tensor(Tensor::zeros([o], device))),
        };
        Self { affine1: lin(input, hidden), relu1: Relu::new(), affine2: lin(hidden, output) }
    }

    fn predict(&self, x: Tensor<2>) -> Tensor<2> {
        self.affine2.forward(self.relu1.forward(self.affine1.forward(x)))
    }

    /// Number of correct argmax predictions.
    fn correct(&self, x: Tensor<2>, t: Tensor<1, Int>) -> i64 {
        let n = t.dims()[0];
        let y = self.predict(x).argmax(1).reshape([n]);
        y.equal(t).int().sum().into_scalar::<i64>()
    }
}

fn read_gz(path: &str) -> Vec<u8> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {path}: {e}"));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::io::BufReader::new(f))
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("gunzip {path}: {e}"));
    out
}

fn be_u32(b: &[u8], off: usize) -> usize {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]]) as usize
}

/// IDX3 images -> (flattened f32 pixels / 255.0, count)
fn load_images(path: &str) -> (Vec<f32>, usize) {
    let b = read_gz(path);
    assert_eq!(be_u32(&b, 0), 0x0803, "{path}: bad image magic");
    let (n, r, c) = (be_u32(&b, 4), be_u32(&b, 8), be_u32(&b, 12));
    assert_eq!(r * c, 784);
    let px = &b[16..16 + n * 784];
    (px.iter().map(|&p| p as f32 / 255.0).collect(), n)
}

fn load_labels(path: &str) -> Vec<i64> {
    let b = read_gz(path);
    assert_eq!(be_u32(&b, 0), 0x0801, "{path}: bad label magic");
    let n = be_u32(&b, 4);
    b[8..8 + n].iter().map(|&l| l as i64).collect()
}

/// SplitMix64: host-side RNG for the mini-batch indices (np.random.choice with replacement).
struct SplitMix64(u64);
impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
}

#[allow(unreachable_code, deprecated)]
fn make_device() -> (Device, &'static str) {
    #[cfg(feature = "flex")]
    return (Device::flex(), "flex");
    #[cfg(feature = "ndarray")]
    return (Device::ndarray(), "ndarray");
    panic!("enable cargo feature `flex` or `ndarray`");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = args.get(1).cloned().unwrap_or_else(|| "data/mnist".to_string());
    let out_json = args.get(2).cloned();
    let iters_num: usize = std::env::var("ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(10000);

    let t_start = Instant::now();
    let (device, backend) = make_device();
    device.seed(0);
    let ad_device = device.clone().autodiff();

    let (xtr, n_train) = load_images(&format!("{dir}/train-images-idx3-ubyte.gz"));
    let ttr = load_labels(&format!("{dir}/train-labels-idx1-ubyte.gz"));
    let (xte, n_test) = load_images(&format!("{dir}/t10k-images-idx3-ubyte.gz"));
    let tte = load_labels(&format!("{dir}/t10k-labels-idx1-ubyte.gz"));
    assert_eq!((ttr.len(), tte.len()), (n_train, n_test));

    let x_train: Tensor<2> = Tensor::from_data(TensorData::new(xtr, [n_train, 784]), &device);
    let t_train: Tensor<1, Int> = Tensor::from_data(TensorData::new(ttr, [n_train]), &device);
    let x_test: Tensor<2> = Tensor::from_data(TensorData::new(xte, [n_test, 784]), &device);
    let t_test: Tensor<1, Int> = Tensor::from_data(TensorData::new(tte, [n_test]), &device);
    let t_loaded = Instant::now();

    let mut network = TwoLayerNet::new(784, 50, 10, 0.01, &ad_device);
    let loss_fn: CrossEntropyLoss = CrossEntropyLossConfig::new().init(&ad_device);
    let mut optim = SgdConfig::new().init();

    let batch_size = 100usize;
    let learning_rate = 0.1f64;
    let iter_per_epoch = (n_train / batch_size).max(1);
    let mut rng = SplitMix64(0);

    let mut train_loss_list: Vec<f32> = Vec::with_capacity(iters_num);
    let mut train_acc_list: Vec<f64> = Vec::new();
    let mut test_acc_list: Vec<f64> = Vec::new();

    for i in 0..iters_num {
        let idx: Vec<i64> = (0..batch_size).map(|_| rng.below(n_train as u64) as i64).collect();
        let idx: Tensor<1, Int> = Tensor::from_data(TensorData::new(idx, [batch_size]), &device);
        let x_batch = x_train.clone().select(0, idx.clone());
        let t_batch = t_train.clone().select(0, idx);

        // gradient (forward + backward) and SGD update
        let loss = loss_fn.forward(network.predict(x_batch.clone().autodiff()), t_batch.clone().autodiff());
        let grads = GradientsParams::from_grads(loss.backward(), &network);
        network = optim.step(learning_rate, network, grads);

        // like the seed: log the loss with a second forward pass after the update
        let valid = network.valid();
        let loss = loss_fn.valid().forward(valid.predict(x_batch), t_batch);
        train_loss_list.push(loss.into_scalar::<f32>());

        if i % iter_per_epoch == 0 {
            let train_acc = valid.correct(x_train.clone(), t_train.clone()) as f64 / n_train as f64;
            let test_acc = valid.correct(x_test.clone(), t_test.clone()) as f64 / n_test as f64;
            train_acc_list.push(train_acc);
            test_acc_list.push(test_acc);
            println!("{i}th: train acc, test acc | {train_acc}, {test_acc}");
        }
    }
    let t_end = Instant::now();

    let valid = network.valid();
    let final_train = valid.correct(x_train.clone(), t_train.clone()) as f64 / n_train as f64;
    let final_test = valid.correct(x_test.clone(), t_test.clone()) as f64 / n_test as f64;
    println!("backend: burn 0.22.1 {backend}");
    println!("final train acc {final_train:.4}, final test acc {final_test:.4} (after {iters_num} iters)");
    println!("last logged loss {:.6}", train_loss_list.last().copied().unwrap_or(f32::NAN));
    println!(
        "wall time: load {:.3}s, train+eval {:.3}s, total {:.3}s",
        (t_loaded - t_start).as_secs_f64(),
        (t_end - t_loaded).as_secs_f64(),
        (t_end - t_start).as_secs_f64()
    );

    if let Some(path) = out_json {
        let list = |v: &[f64]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(",");
        let losses = train_loss_list.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(",");
        let json = format!(
            "{{\"iters\":{iters_num},\"backend\":\"burn-0.22.1-{backend}\",\"train_acc_list\":[{}],\"test_acc_list\":[{}],\"final_train_acc\":{final_train},\"final_test_acc\":{final_test},\"train_loss_list\":[{losses}]}}",
            list(&train_acc_list),
            list(&test_acc_list)
        );
        std::fs::write(&path, json).unwrap_or_else(|e| panic!("write {path}: {e}"));
    }
}
