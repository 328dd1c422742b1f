//! 2 apples at 100 and 3 oranges at 150 with 10% tax: Mul and Add nodes, forward and backward.
//!
//! The graph is built in [`bp_layers::trace::buy_apple_orange`], which runs
//! real `MulLayer`s and an `AddLayer` forward, then backward in the reverse
//! order; `cargo xtask graph apple-orange` draws the same trace.
//!
//! `cargo run -p bp-layers --example buy_apple_orange`

use bp_layers::{round_sig, trace};

fn main() -> Result<(), bp_layers::LayerError> {
    let graph = trace::buy_apple_orange(100.0, 2.0, 150.0, 3.0, 1.1)?;
    // dprice = 1 flows back from the price; each input's edge holds its gradient.
    let grad = |label| graph.edge(label).map(|e| round_sig(e.backward, 10));

    println!("price: {}", round_sig(graph.edge("price")?.forward, 10));
    println!(
        "dapple: {}, dapple_num: {}, dorange: {}, dorange_num: {}, dtax: {}",
        grad("apple")?,
        grad("apple num")?,
        grad("orange")?,
        grad("orange num")?,
        grad("tax")?
    );
    Ok(())
}
