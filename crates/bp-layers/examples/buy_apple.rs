//! The book's first graph: 2 apples at 100 each with 10% tax, forward and backward.
//!
//! `cargo run -p bp-layers --example buy_apple`

use bp_layers::{round_sig, MulLayer};

fn main() -> Result<(), bp_layers::LayerError> {
    let (apple, apple_num, tax) = (100.0, 2.0, 1.1);

    let mut mul_apple_layer = MulLayer::new();
    let mut mul_tax_layer = MulLayer::new();

    // forward
    let apple_price = mul_apple_layer.forward(apple, apple_num);
    let price = mul_tax_layer.forward(apple_price, tax);

    // backward, in the reverse order
    let dprice = 1.0;
    let (dapple_price, dtax) = mul_tax_layer.backward(dprice)?;
    let (dapple, dapple_num) = mul_apple_layer.backward(dapple_price)?;

    let r = |v| round_sig(v, 10);
    println!("price: {}", r(price));
    println!(
        "dapple: {}, dapple_num: {}, dtax: {}",
        r(dapple),
        r(dapple_num),
        r(dtax)
    );
    Ok(())
}
