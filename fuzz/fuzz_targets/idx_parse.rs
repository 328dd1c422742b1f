//! Fuzzes the IDX parser: any bytes must give `Ok` or `Err`, never a panic, an
//! out-of-memory or a hang; whatever parses must round-trip.
#![no_main]

use bp_data::idx::{self, IdxType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Gzip detected from the bytes.
    if let Ok(a) = idx::read_idx(data) {
        let n: usize = a.dims().iter().product();
        assert_eq!(n, a.len());
        assert!(a.rank() >= 1);
        let raw = idx::encode(&a, false);
        let b = idx::read_idx_uncompressed(&raw[..]).expect("what parsed must round-trip");
        // Compare bitwise: NaN payloads must survive too.
        assert_eq!(idx::encode(&b, false), raw);
        assert_eq!(b.dims(), a.dims());
        assert!(IdxType::from_code(a.elem_type().code()).is_some());
    }
    // Raw only: must agree with the auto-detecting reader on non-gzip input.
    let raw = idx::read_idx_uncompressed(data);
    if data.len() < 2 || data[..2] != [0x1f, 0x8b] {
        assert_eq!(raw.is_ok(), idx::read_idx(data).is_ok());
    }
});
