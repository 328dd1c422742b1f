use super::*;

/// A small deterministic generator (no dev-dependency needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }
}

fn sample(elem: IdxType, n: usize, rng: &mut Lcg) -> IdxData {
    let mut bits = || rng.next();
    match elem {
        IdxType::U8 => IdxData::U8((0..n).map(|_| bits() as u8).collect()),
        IdxType::I8 => IdxData::I8((0..n).map(|_| bits() as i8).collect()),
        IdxType::I16 => IdxData::I16((0..n).map(|_| bits() as i16).collect()),
        IdxType::I32 => IdxData::I32((0..n).map(|_| bits() as i32).collect()),
        IdxType::F32 => IdxData::F32(
            [
                0.0,
                -0.0,
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::MIN_POSITIVE / 2.0,
                f32::MAX,
            ]
            .into_iter()
            .chain((0..).map(|_| (bits() as i32) as f32 / 7.0))
            .take(n)
            .collect(),
        ),
        IdxType::F64 => IdxData::F64(
            [
                0.0,
                -0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::MIN_POSITIVE / 2.0,
                f64::MIN,
            ]
            .into_iter()
            .chain((0..).map(|_| (bits() as i64) as f64 / 3.0))
            .take(n)
            .collect(),
        ),
    }
}

fn err_of(bytes: &[u8]) -> IdxError {
    match read_idx(bytes) {
        Ok(a) => panic!(
            "expected an error, parsed {:?} {:?}",
            a.elem_type(),
            a.dims()
        ),
        Err(e) => e,
    }
}

fn header(code: u8, dims: &[u32]) -> Vec<u8> {
    let mut h = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        h.extend_from_slice(&d.to_be_bytes());
    }
    h
}

#[test]
fn round_trip_every_type_and_rank() {
    let mut rng = Lcg(42);
    let shapes: &[&[usize]] = &[
        &[0],
        &[1],
        &[7],
        &[3, 0],
        &[2, 3],
        &[2, 3, 4],
        &[2, 1, 3, 2],
        &[1, 2, 1, 2, 1, 2, 1],
    ];
    let mut cases = 0;
    for elem in IdxType::ALL {
        for dims in shapes {
            let n = dims.iter().product();
            let a = IdxArray::new(dims.to_vec(), sample(elem, n, &mut rng)).expect("valid array");
            for gzip in [false, true] {
                let bytes = encode(&a, gzip);
                if !gzip {
                    assert_eq!(bytes.len(), 4 + 4 * dims.len() + n * elem.size());
                    assert_eq!(&bytes[..4], &[0, 0, elem.code(), dims.len() as u8]);
                }
                let b = read_idx(&bytes[..]).expect("round trip");
                assert_eq!(a, b, "{elem} {dims:?} gzip={gzip}");
                if !gzip {
                    let c = read_idx_uncompressed(&bytes[..]).expect("raw round trip");
                    assert_eq!(a, c);
                }
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 6 * shapes.len() * 2);
}

#[test]
fn float_bits_survive_including_nan() {
    let v = vec![f32::NAN, f32::from_bits(0x7fc0_1234), -f32::NAN];
    let a = IdxArray::new(vec![3], IdxData::F32(v.clone())).expect("valid");
    let b = read_idx(&encode(&a, true)[..]).expect("parse");
    let (_, w) = b.into_vec::<f32>().expect("f32");
    assert_eq!(
        v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        w.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn big_endian_on_disk() {
    let a = IdxArray::new(vec![2], IdxData::I16(vec![0x0102, -2])).expect("valid");
    assert_eq!(
        encode(&a, false),
        [0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe]
    );
    let a = IdxArray::new(vec![1], IdxData::F32(vec![1.0])).expect("valid");
    assert_eq!(encode(&a, false)[8..], 1.0f32.to_be_bytes());
}

#[test]
fn ndarray_conversions() {
    let x = ndarray::Array3::from_shape_fn((2, 3, 4), |(i, j, k)| (i * 100 + j * 10 + k) as i32);
    let a = IdxArray::from_array(x.clone()).expect("valid");
    assert_eq!(a.dims(), [2, 3, 4]);
    let b = read_idx(&encode(&a, false)[..]).expect("parse");
    let y = b.clone().into_arrayd::<i32>().expect("i32");
    assert_eq!(y, x.into_dyn());
    // Non-standard layout is written in logical order.
    let t = ndarray::Array2::from_shape_vec((2, 3), vec![1u8, 2, 3, 4, 5, 6]).expect("shape");
    let a = IdxArray::from_array(t.t().to_owned()).expect("valid");
    assert_eq!(a.data(), &IdxData::U8(vec![1, 4, 2, 5, 3, 6]));
    let tt = IdxArray::from_array(t.reversed_axes()).expect("valid");
    assert_eq!(tt.data(), &IdxData::U8(vec![1, 4, 2, 5, 3, 6]));
    assert!(matches!(
        b.into_arrayd::<u8>(),
        Err(IdxError::WrongType {
            expected: IdxType::U8,
            found: IdxType::I32
        })
    ));
}

#[test]
fn invalid_arrays_are_refused() {
    assert!(IdxArray::new(vec![], IdxData::U8(vec![])).is_err());
    assert!(IdxArray::new(vec![2, 2], IdxData::U8(vec![1, 2, 3])).is_err());
    assert!(IdxArray::new(vec![1 << 33, 0], IdxData::U8(vec![])).is_err());
    assert!(IdxArray::new(vec![1; 256], IdxData::U8(vec![0])).is_err());
}

#[test]
fn type_codes() {
    for t in IdxType::ALL {
        assert_eq!(IdxType::from_code(t.code()), Some(t));
    }
    assert_eq!(IdxType::from_code(0x0a), None);
    assert_eq!(IdxType::F64.size(), 8);
}

#[test]
fn empty_input() {
    assert!(matches!(err_of(&[]), IdxError::Empty { gzip: false }));
    assert!(matches!(
        err_of(&gzip_bytes(&[])),
        IdxError::Empty { gzip: true }
    ));
    assert!(err_of(&[]).to_string().contains("empty file"));
}

#[test]
fn truncated_header() {
    let e = err_of(&[0, 0, 8]);
    assert!(
        matches!(e, IdxError::TruncatedHeader { got: 3, needed: 4 }),
        "{e}"
    );
    let e = err_of(&[0]);
    assert!(
        matches!(e, IdxError::TruncatedHeader { got: 1, needed: 4 }),
        "{e}"
    );
    let e = err_of(&[0, 0, 8, 3, 0, 0, 0, 1, 0, 0]);
    assert!(
        matches!(
            e,
            IdxError::TruncatedHeader {
                got: 10,
                needed: 16
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("truncated header"));
    let e = err_of(&gzip_bytes(&[0, 0, 8, 1, 0]));
    assert!(
        matches!(e, IdxError::TruncatedHeader { got: 5, needed: 8 }),
        "{e}"
    );
}

#[test]
fn wrong_magic_with_hints() {
    let html = b"<!DOCTYPE html><html><body>403 Forbidden</body></html>";
    let e = err_of(html);
    assert!(
        matches!(e, IdxError::BadMagic { found, .. } if &found == b"<!DO"),
        "{e}"
    );
    assert!(
        e.to_string().contains("wrong magic number 3c 21 44 4f"),
        "{e}"
    );
    assert!(e.to_string().contains("HTML"), "{e}");
    // The same page gzip-compressed (a server's transfer encoding kept on disk).
    assert!(err_of(&gzip_bytes(b"\n  <html>oops</html>"))
        .to_string()
        .contains("HTML"));

    let a = IdxArray::new(vec![2], IdxData::U8(vec![1, 2])).expect("valid");
    let twice = gzip_bytes(&encode(&a, true));
    let e = err_of(&twice);
    assert!(matches!(e, IdxError::BadMagic { gzip: true, .. }), "{e}");
    assert!(e.to_string().contains("still gzip-compressed"), "{e}");

    let e = read_idx_uncompressed(&encode(&a, true)[..]).expect_err("gzip is not raw");
    assert!(
        e.to_string()
            .contains("gzip-compressed: read it with idx::read_idx"),
        "{e}"
    );

    assert!(err_of(b"PK\x03\x04rest").to_string().contains("zip"));
    assert!(err_of(b"Not Found").to_string().contains("text"));
    assert!(err_of(&[0x01, 0x08, 0, 0, 2, 0, 0, 0])
        .to_string()
        .contains("byte order"));
    assert!(err_of(b"{\"error\": 1}").to_string().contains("JSON"));
    // A two-byte non-IDX file is a wrong magic, not "truncated".
    assert!(matches!(err_of(b"<h"), IdxError::BadMagic { .. }));
}

#[test]
fn unknown_type_code() {
    let e = err_of(&header(0x0a, &[1]));
    assert!(matches!(e, IdxError::UnknownType { code: 0x0a }), "{e}");
    assert!(e.to_string().contains("unknown element type code 0x0a"));
}

#[test]
fn rank_zero() {
    let e = err_of(&[0, 0, 8, 0, 42]);
    assert!(matches!(e, IdxError::ZeroRank), "{e}");
    assert!(e.to_string().contains("rank 0"));
}

#[test]
fn dimension_product_overflow() {
    let e = err_of(&header(0x08, &[u32::MAX, u32::MAX, u32::MAX]));
    assert!(matches!(e, IdxError::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("overflow"), "{e}");
    // The element count fits 64 bits, the byte count does not.
    let e = err_of(&header(0x0e, &[u32::MAX, u32::MAX]));
    assert!(
        matches!(e, IdxError::TooLarge { what, .. } if what.contains("byte count")),
        "{e}"
    );
    // Fits u64 but is more than any address space.
    let e = err_of(&header(0x08, &[u32::MAX, u32::MAX, 1 << 24]));
    assert!(matches!(e, IdxError::TooLarge { .. }), "{e}");
}

#[test]
fn huge_claim_in_tiny_file_is_an_error_not_an_allocation() {
    // "4 billion images" of 28x28 in a 100-byte file.
    let mut bytes = header(0x08, &[4_000_000_000, 28, 28]);
    bytes.resize(100, 7);
    let e = err_of(&bytes);
    assert!(
        matches!(
            e,
            IdxError::PayloadTooShort {
                expected: 3_136_000_000_000,
                got: 84
            }
        ),
        "{e}"
    );
    let e = err_of(&gzip_bytes(&bytes));
    assert!(
        matches!(e, IdxError::PayloadTooShort { got: 84, .. }),
        "{e}"
    );
}

#[test]
fn payload_shorter_or_longer_than_declared() {
    let a = IdxArray::new(vec![2, 3], IdxData::I32(vec![1, 2, 3, 4, 5, 6])).expect("valid");
    let raw = encode(&a, false);
    let e = err_of(&raw[..raw.len() - 3]);
    assert!(
        matches!(
            e,
            IdxError::PayloadTooShort {
                expected: 24,
                got: 21
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("payload truncated"));
    let mut long = raw.clone();
    long.extend_from_slice(&[9, 9]);
    let e = err_of(&long);
    assert!(
        matches!(
            e,
            IdxError::PayloadTooLong {
                expected: 24,
                extra: 2
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("2 unexpected bytes"));
    // The same inside gzip.
    let e = err_of(&gzip_bytes(&raw[..raw.len() - 1]));
    assert!(
        matches!(e, IdxError::PayloadTooShort { got: 23, .. }),
        "{e}"
    );
    let e = err_of(&gzip_bytes(&long));
    assert!(
        matches!(e, IdxError::PayloadTooLong { extra: 2, .. }),
        "{e}"
    );
}

fn labels_gz() -> Vec<u8> {
    let a = IdxArray::new(
        vec![1000],
        IdxData::U8((0..1000).map(|i| (i * 7 % 10) as u8).collect()),
    )
    .expect("valid");
    encode(&a, true)
}

#[test]
fn truncated_gzip() {
    let gz = labels_gz();
    for cut in [3, 10, gz.len() / 2, gz.len() - 8, gz.len() - 1] {
        let e = err_of(&gz[..cut]);
        assert!(matches!(e, IdxError::TruncatedGzip), "cut at {cut}: {e:?}");
        assert!(e.to_string().contains("truncated gzip"));
    }
}

#[test]
fn corrupt_gzip_crc_and_data() {
    let gz = labels_gz();
    let mut bad_crc = gz.clone();
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 0xff; // the CRC32 in the trailer
    let e = err_of(&bad_crc);
    assert!(matches!(e, IdxError::CorruptGzip { .. }), "{e:?}");
    assert!(e.to_string().contains("corrupt gzip"));

    let mut bad_size = gz.clone();
    bad_size[n - 1] ^= 0x01; // ISIZE in the trailer
    assert!(matches!(err_of(&bad_size), IdxError::CorruptGzip { .. }));

    let mut trailing = gz.clone();
    trailing.extend_from_slice(b"garbage after the stream");
    let e = err_of(&trailing);
    assert!(matches!(e, IdxError::CorruptGzip { .. }), "{e:?}");
    // Fewer trailing bytes than a gzip header reads as a truncated next member.
    trailing.truncate(gz.len() + 4);
    let e = err_of(&trailing);
    assert!(matches!(e, IdxError::TruncatedGzip), "{e:?}");

    let mut bad_header = gz.clone();
    bad_header[2] = 7; // compression method must be 8 (deflate)
    assert!(matches!(err_of(&bad_header), IdxError::CorruptGzip { .. }));
}

#[test]
fn concatenated_gzip_members_are_one_stream() {
    let a = IdxArray::new(vec![4], IdxData::U8(vec![1, 2, 3, 4])).expect("valid");
    let raw = encode(&a, false);
    let mut gz = gzip_bytes(&raw[..6]);
    gz.extend(gzip_bytes(&raw[6..]));
    assert_eq!(read_idx(&gz[..]).expect("multi-member gzip"), a);
}

struct Failing(usize);

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let n = self.0.min(buf.len());
        buf[..n].fill(0);
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn reader_errors_are_io_errors() {
    let e = read_idx(Failing(0)).expect_err("fails");
    assert!(matches!(e, IdxError::Io { .. }), "{e:?}");
    let e = read_idx(io::Cursor::new(header(0x08, &[100])).chain(Failing(0))).expect_err("fails");
    assert!(matches!(e, IdxError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("disk on fire"));
    let gz = labels_gz();
    let e = read_idx(io::Cursor::new(gz[..20].to_vec()).chain(Failing(0))).expect_err("fails");
    assert!(matches!(e, IdxError::Io { .. }), "{e:?}");
}

#[test]
fn file_errors_name_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("labels.idx");
    std::fs::write(&p, b"<html>").expect("write");
    let e = read_idx_file(&p).expect_err("html");
    let msg = e.to_string();
    assert!(
        msg.contains(&p.display().to_string()) && msg.contains("HTML"),
        "{msg}"
    );
    assert!(matches!(
        e,
        DataError::Idx {
            error: IdxError::BadMagic { .. },
            ..
        }
    ));
    let missing = dir.path().join("nope");
    let e = read_idx_file(&missing).expect_err("missing");
    assert!(matches!(e, DataError::Missing { .. }));
    assert!(e.to_string().contains("nope") && e.to_string().contains("not found"));
    let e = read_idx_file(dir.path()).expect_err("a directory");
    assert!(
        e.to_string().contains(&dir.path().display().to_string()),
        "{e}"
    );
}

#[test]
fn payloads_larger_than_the_first_allocation_grow_exactly() {
    // Past MAX_PREALLOC from a plain reader (the buffer grows), and from a file
    // (allocated at once from the file's length), gzip and raw.
    let mut rng = Lcg(7);
    // 2.5 MiB and a bit: neither a power of two nor a multiple of the first allocation.
    let rows = (MAX_PREALLOC as usize) * 5 / 32 + 1;
    let a = IdxArray::new(vec![rows, 4], sample(IdxType::I32, rows * 4, &mut rng)).expect("valid");
    let dir = tempfile::tempdir().expect("tempdir");
    for gzip in [false, true] {
        let bytes = encode(&a, gzip);
        assert_eq!(read_idx(&bytes[..]).expect("reader"), a);
        let p = dir.path().join("a");
        std::fs::write(&p, &bytes).expect("write");
        assert_eq!(read_idx_file(&p).expect("file"), a);
        // One byte short or long is still an error, whichever way the buffer was sized.
        std::fs::write(&p, &bytes[..bytes.len() - 1]).expect("write");
        assert!(read_idx_file(&p).is_err());
        assert!(read_idx(&bytes[..bytes.len() - 1]).is_err());
    }
}

#[test]
fn huge_claim_in_tiny_file_on_disk_is_an_error_not_an_allocation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = header(0x08, &[4_000_000_000, 28, 28]);
    bytes.resize(100, 7);
    for (name, b) in [("raw", bytes.clone()), ("gz", gzip_bytes(&bytes))] {
        let p = dir.path().join(name);
        std::fs::write(&p, b).expect("write");
        let e = read_idx_file(&p).expect_err("a lie");
        assert!(
            matches!(
                e,
                DataError::Idx {
                    error: IdxError::PayloadTooShort { got: 84, .. },
                    ..
                }
            ),
            "{e}"
        );
    }
}
