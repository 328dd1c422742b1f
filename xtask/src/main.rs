//! `cargo xtask`: the project's commands. It only parses options and wires the
//! library crates together; every algorithm lives in a library crate.

fn main() {
    println!("xtask: no commands yet");
}
