//! The book's first graph: 2 apples at 100 each with 10% tax, forward and backward.
//!
//! The graph is built in [`bp_layers::trace::buy_apple`], which runs two real
//! `MulLayer`s forward, then backward in the reverse order; `cargo xtask graph
//! apple` draws the same trace.
//!
//! `cargo run -p bp-layers --example buy_apple`

use bp_layers::{round_sig, trace};

fn main() -> Result<(), bp_layers::LayerError> {
    let graph = trace::buy_apple(100.0, 2.0, 1.1)?;
    // dprice = 1 flows back from the price; each input's edge holds its gradient.
    let grad = |label| graph.edge(label).map(|e| round_sig(e.backward, 10));

    println!("price: {}", round_sig(graph.edge("price")?.forward, 10));
    println!(
        "dapple: {}, dapple_num: {}, dtax: {}",
        grad("apple")?,
        grad("apple num")?,
        grad("tax")?
    );
    Ok(())
}
