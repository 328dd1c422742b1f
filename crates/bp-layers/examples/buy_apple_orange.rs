//! 2 apples at 100 and 3 oranges at 150 with 10% tax: Mul and Add nodes, forward and backward.
//!
//! `cargo run -p bp-layers --example buy_apple_orange`

use bp_layers::{round_sig, AddLayer, MulLayer};

fn main() -> Result<(), bp_layers::LayerError> {
    let (apple, apple_num) = (100.0, 2.0);
    let (orange, orange_num) = (150.0, 3.0);
    let tax = 1.1;

    let mut mul_apple_layer = MulLayer::new();
    let mut mul_orange_layer = MulLayer::new();
    let mut add_apple_orange_layer = AddLayer::new();
    let mut mul_tax_layer = MulLayer::new();

    // forward
    let apple_price = mul_apple_layer.forward(apple, apple_num);
    let orange_price = mul_orange_layer.forward(orange, orange_num);
    let all_price = add_apple_orange_layer.forward(apple_price, orange_price);
    let price = mul_tax_layer.forward(all_price, tax);

    // backward, in the reverse order
    let dprice = 1.0;
    let (dall_price, dtax) = mul_tax_layer.backward(dprice)?;
    let (dapple_price, dorange_price) = add_apple_orange_layer.backward(dall_price);
    let (dorange, dorange_num) = mul_orange_layer.backward(dorange_price)?;
    let (dapple, dapple_num) = mul_apple_layer.backward(dapple_price)?;

    let r = |v| round_sig(v, 10);
    println!("price: {}", r(price));
    println!(
        "dapple: {}, dapple_num: {}, dorange: {}, dorange_num: {}, dtax: {}",
        r(dapple),
        r(dapple_num),
        r(dorange),
        r(dorange_num),
        r(dtax)
    );
    Ok(())
}
