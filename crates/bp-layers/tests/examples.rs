//! The shopping examples print exactly the book's numbers.

use std::path::PathBuf;
use std::process::Command;

/// `cargo test` builds the examples next to the test binaries: `target/<profile>/examples/`.
fn example(name: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    let dir: PathBuf = exe.parent().unwrap().parent().unwrap().join("examples");
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let out = Command::new(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn buy_apple_prints_the_book_numbers() {
    assert_eq!(
        example("buy_apple"),
        "price: 220\ndapple: 2.2, dapple_num: 110, dtax: 200\n"
    );
}

#[test]
fn buy_apple_orange_prints_the_book_numbers() {
    assert_eq!(
        example("buy_apple_orange"),
        "price: 715\ndapple: 2.2, dapple_num: 110, dorange: 3.3, dorange_num: 165, dtax: 650\n"
    );
}
