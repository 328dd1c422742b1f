//! The book's `train_neuralnet.py` (chapter 5.7.4): a `TwoLayerNet(784, 50, 10)`
//! trained on MNIST by minibatch SGD, its train and test accuracy printed every
//! epoch and plotted at the end.
//!
//! `cargo run --release -p bp-train --example train_neuralnet`. The data are
//! fetched into `$BP_DATA_DIR/mnist` (else `data/mnist`) by bp-data's verifying
//! downloader, from `$BP_MIRROR` when set, else the public mirrors. The plot goes
//! to `runs/train_neuralnet/accuracy.png`.

use std::error::Error;
use std::path::PathBuf;

use bp_core::Targets;
use bp_data::fetch::{fetch_and_load, FetchOptions};
use bp_data::Dataset;
use bp_layers::TwoLayerNet;
use bp_train::{accuracy, default_eval_threads, Optimizer, Sgd, SplitView};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn main() -> Result<(), Box<dyn Error>> {
    // (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True)
    let data_dir =
        std::env::var_os("BP_DATA_DIR").map_or_else(|| PathBuf::from("data"), PathBuf::from);
    let options = FetchOptions::default().with_env_mirror(Dataset::Mnist)?;
    let (_, mnist) = fetch_and_load(
        Dataset::Mnist,
        &data_dir.join("mnist"),
        &options,
        &mut |_| {},
    )?;
    let train = SplitView::new(mnist.train.images(), mnist.train.labels())?;
    let test = SplitView::new(mnist.test.images(), mnist.test.labels())?;

    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut network = TwoLayerNet::<f32>::new(784, 50, 10, 0.01, &mut rng)?;

    let iters_num = 10_000;
    let train_size = mnist.train.len();
    let batch_size = 100;
    let mut optimizer = Sgd::new(0.1);
    let iter_per_epoch = (train_size / batch_size).max(1);
    let (mut train_acc_list, mut test_acc_list) = (Vec::new(), Vec::new());

    let (mut x_batch, mut t_batch) = (Array2::<f32>::zeros((0, 0)), Vec::new());
    for i in 0..iters_num {
        // batch_mask = np.random.choice(train_size, batch_size)
        let batch_mask: Vec<usize> = (0..batch_size)
            .map(|_| rng.random_range(0..train_size))
            .collect();
        mnist
            .train
            .gather_into(&batch_mask, &mut x_batch, &mut t_batch)?;

        // grad = network.gradient(x_batch, t_batch): forward, then backward
        let grad = network.gradient(x_batch.view(), Targets::Labels(&t_batch))?;
        // params[key] -= learning_rate * grad[key], for W1, b1, W2, b2
        optimizer.update(grad.params);

        if i % iter_per_epoch == 0 {
            // The whole sets, 1000 images at a time, straight from their bytes.
            let train_acc = accuracy(&network, &train, 10, default_eval_threads())?;
            let test_acc = accuracy(&network, &test, 10, default_eval_threads())?;
            println!("{train_acc:.4} {test_acc:.4}");
            train_acc_list.push(train_acc);
            test_acc_list.push(test_acc);
        }
    }

    let out = PathBuf::from("runs/train_neuralnet/accuracy.png");
    bp_plot::plot_accuracy(&out, &train_acc_list, &test_acc_list)?;
    println!("wrote {}", out.display());
    Ok(())
}
