//! Writes demo plots to a directory (default `/tmp/bp-plot-demo`): a 17-evaluation
//! accuracy curve like the seed's and a 10000-iteration loss curve.

use std::path::PathBuf;

fn main() -> Result<(), bp_plot::PlotError> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/tmp/bp-plot-demo".into()),
    );
    // A curve shaped like the seed's run: 0.1 at epoch 0, then rising towards 0.97.
    let train: Vec<f64> = (0..17)
        .map(|e| {
            if e == 0 {
                0.10
            } else {
                0.97 - 0.17 * (-0.35 * f64::from(e - 1)).exp()
            }
        })
        .collect();
    let test: Vec<f64> = train
        .iter()
        .enumerate()
        .map(|(i, a)| if i == 0 { 0.098 } else { a - 0.004 })
        .collect();
    bp_plot::plot_accuracy(&dir.join("accuracy.png"), &train, &test)?;
    bp_plot::plot_accuracy(&dir.join("accuracy.svg"), &train, &test)?;
    // Loss: decays from 2.3 with some deterministic noise.
    let mut state = 12345u64;
    let loss: Vec<f64> = (0..10_000)
        .map(|i| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = ((state >> 33) as f64 / f64::from(u32::MAX)) - 0.5;
            let base = 0.1 + 2.2 * (-f64::from(i) / 400.0).exp();
            (base * (1.0 + 0.8 * noise)).max(0.01)
        })
        .collect();
    bp_plot::plot_loss(&dir.join("loss.png"), &loss)?;
    println!("wrote {}", dir.display());
    Ok(())
}
