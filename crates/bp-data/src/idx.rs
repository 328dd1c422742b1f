//! The IDX file format of the MNIST database: a strict reader and a writer for
//! every element type and rank, gzip-compressed or raw.
//!
//! An IDX file is a 4-byte magic number `00 00 <type> <rank>`, `rank` big-endian
//! `u32` dimensions, then the elements in row-major order, big-endian. The reader
//! checks the whole header before it allocates anything, bounds the allocation by
//! the bytes actually present (a header that claims 4 billion images in a 100-byte
//! file is an error, not an out-of-memory), and insists that the payload is exactly
//! as long as the header says. Gzip is detected from the first two bytes, never
//! from a file name.
//!
//! ```
//! use bp_data::idx::{self, IdxArray, IdxData};
//!
//! let a = IdxArray::new(vec![2, 3], IdxData::I16(vec![-1, 2, -3, 4, -5, 6])).unwrap();
//! for gzip in [false, true] {
//!     let bytes = idx::encode(&a, gzip);
//!     let b = idx::read_idx(&bytes[..]).unwrap();
//!     assert_eq!(a, b);
//! }
//! // A truncated payload is an error, named as such.
//! let bytes = idx::encode(&a, false);
//! let err = idx::read_idx(&bytes[..bytes.len() - 1]).unwrap_err();
//! assert!(err.to_string().contains("payload truncated"));
//! ```

use std::fmt;
use std::fs::File;
use std::io::{self, Cursor, Read, Write};
use std::path::Path;

use byteorder::{BigEndian, ByteOrder};
use flate2::read::MultiGzDecoder;
use ndarray::{ArrayD, IxDyn};

use crate::error::{DataError, IdxError};

/// The element type of an IDX array, from the third byte of the magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdxType {
    /// `0x08`: unsigned byte.
    U8,
    /// `0x09`: signed byte.
    I8,
    /// `0x0B`: big-endian 16-bit signed integer.
    I16,
    /// `0x0C`: big-endian 32-bit signed integer.
    I32,
    /// `0x0D`: big-endian IEEE 754 single precision.
    F32,
    /// `0x0E`: big-endian IEEE 754 double precision.
    F64,
}

impl IdxType {
    /// Every type, in type-code order.
    pub const ALL: [IdxType; 6] = [
        IdxType::U8,
        IdxType::I8,
        IdxType::I16,
        IdxType::I32,
        IdxType::F32,
        IdxType::F64,
    ];

    /// The type for a header type code, if known.
    pub fn from_code(code: u8) -> Option<IdxType> {
        Some(match code {
            0x08 => IdxType::U8,
            0x09 => IdxType::I8,
            0x0B => IdxType::I16,
            0x0C => IdxType::I32,
            0x0D => IdxType::F32,
            0x0E => IdxType::F64,
            _ => return None,
        })
    }

    /// The header type code.
    pub fn code(self) -> u8 {
        match self {
            IdxType::U8 => 0x08,
            IdxType::I8 => 0x09,
            IdxType::I16 => 0x0B,
            IdxType::I32 => 0x0C,
            IdxType::F32 => 0x0D,
            IdxType::F64 => 0x0E,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            IdxType::U8 | IdxType::I8 => 1,
            IdxType::I16 => 2,
            IdxType::I32 | IdxType::F32 => 4,
            IdxType::F64 => 8,
        }
    }

    /// The Rust name of the type, e.g. `"u8"`.
    pub fn name(self) -> &'static str {
        match self {
            IdxType::U8 => "u8",
            IdxType::I8 => "i8",
            IdxType::I16 => "i16",
            IdxType::I32 => "i32",
            IdxType::F32 => "f32",
            IdxType::F64 => "f64",
        }
    }
}

impl fmt::Display for IdxType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The elements of an IDX array, row-major, in native byte order.
#[derive(Debug, Clone, PartialEq)]
pub enum IdxData {
    /// Unsigned bytes.
    U8(Vec<u8>),
    /// Signed bytes.
    I8(Vec<i8>),
    /// 16-bit signed integers.
    I16(Vec<i16>),
    /// 32-bit signed integers.
    I32(Vec<i32>),
    /// Single-precision floats.
    F32(Vec<f32>),
    /// Double-precision floats.
    F64(Vec<f64>),
}

impl IdxData {
    /// The element type.
    pub fn elem_type(&self) -> IdxType {
        match self {
            IdxData::U8(_) => IdxType::U8,
            IdxData::I8(_) => IdxType::I8,
            IdxData::I16(_) => IdxType::I16,
            IdxData::I32(_) => IdxType::I32,
            IdxData::F32(_) => IdxType::F32,
            IdxData::F64(_) => IdxType::F64,
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            IdxData::U8(v) => v.len(),
            IdxData::I8(v) => v.len(),
            IdxData::I16(v) => v.len(),
            IdxData::I32(v) => v.len(),
            IdxData::F32(v) => v.len(),
            IdxData::F64(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A Rust element type an IDX array can hold (sealed: `u8`, `i8`, `i16`, `i32`, `f32`, `f64`).
pub trait IdxElement: Copy + private::Sealed + 'static {
    /// The matching IDX type.
    const TYPE: IdxType;
    /// Wraps a vector of this type.
    fn wrap(v: Vec<Self>) -> IdxData;
    /// Unwraps a vector of this type, or gives the data back.
    fn unwrap_data(d: IdxData) -> Result<Vec<Self>, IdxData>;
}

mod private {
    pub trait Sealed {}
}

macro_rules! element {
    ($t:ty, $variant:ident) => {
        impl private::Sealed for $t {}
        impl IdxElement for $t {
            const TYPE: IdxType = IdxType::$variant;
            fn wrap(v: Vec<Self>) -> IdxData {
                IdxData::$variant(v)
            }
            fn unwrap_data(d: IdxData) -> Result<Vec<Self>, IdxData> {
                match d {
                    IdxData::$variant(v) => Ok(v),
                    other => Err(other),
                }
            }
        }
    };
}
element!(u8, U8);
element!(i8, I8);
element!(i16, I16);
element!(i32, I32);
element!(f32, F32);
element!(f64, F64);

/// An n-dimensional IDX array: its dimensions and its elements.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    dims: Vec<usize>,
    data: IdxData,
}

impl IdxArray {
    /// Builds an array, checking that it has at least one dimension, that every
    /// dimension fits the header's `u32`, and that the dimensions multiply to the
    /// number of elements.
    pub fn new(dims: Vec<usize>, data: IdxData) -> Result<IdxArray, IdxError> {
        let invalid = |problem: String| IdxError::InvalidArray { problem };
        if dims.is_empty() || dims.len() > 255 {
            return Err(invalid(format!(
                "rank {} (IDX needs 1 to 255 dimensions)",
                dims.len()
            )));
        }
        if let Some(d) = dims.iter().find(|&&d| u32::try_from(d).is_err()) {
            return Err(invalid(format!("dimension {d} does not fit in 32 bits")));
        }
        let product = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if product != Some(data.len()) {
            return Err(invalid(format!(
                "dimensions {dims:?} do not match {} elements",
                data.len()
            )));
        }
        Ok(IdxArray { dims, data })
    }

    /// Builds an array from an `ndarray` array (any rank from 1 up).
    pub fn from_array<T: IdxElement, D: ndarray::Dimension>(
        a: ndarray::Array<T, D>,
    ) -> Result<IdxArray, IdxError> {
        let dims = a.shape().to_vec();
        let data = if a.is_standard_layout() {
            a.into_raw_vec_and_offset().0
        } else {
            a.iter().copied().collect()
        };
        IdxArray::new(dims, T::wrap(data))
    }

    /// An array from a checked header's dimensions and its decoded payload.
    pub(crate) fn from_parts_unchecked(dims: Vec<usize>, data: IdxData) -> IdxArray {
        IdxArray { dims, data }
    }

    /// The dimensions, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.dims.len()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether there are no elements (some dimension is zero).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The element type.
    pub fn elem_type(&self) -> IdxType {
        self.data.elem_type()
    }

    /// The elements.
    pub fn data(&self) -> &IdxData {
        &self.data
    }

    /// The dimensions and the elements.
    pub fn into_parts(self) -> (Vec<usize>, IdxData) {
        (self.dims, self.data)
    }

    /// The elements as a `Vec<T>`, with the dimensions; an error if the element type is not `T`.
    pub fn into_vec<T: IdxElement>(self) -> Result<(Vec<usize>, Vec<T>), IdxError> {
        let found = self.elem_type();
        match T::unwrap_data(self.data) {
            Ok(v) => Ok((self.dims, v)),
            Err(_) => Err(IdxError::WrongType {
                expected: T::TYPE,
                found,
            }),
        }
    }

    /// The array as an `ndarray` array of `T` (no copy); an error if the element type is not `T`.
    pub fn into_arrayd<T: IdxElement>(self) -> Result<ArrayD<T>, IdxError> {
        let (dims, v) = self.into_vec::<T>()?;
        ArrayD::from_shape_vec(IxDyn(&dims), v).map_err(|e| IdxError::InvalidArray {
            problem: e.to_string(),
        })
    }
}

/// A parsed IDX header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxHeader {
    /// The element type.
    pub elem: IdxType,
    /// The dimensions.
    pub dims: Vec<usize>,
    /// The number of elements (product of the dimensions).
    pub elements: usize,
    /// The payload length in bytes.
    pub payload_bytes: u64,
}

impl IdxHeader {
    /// The header's length in bytes: `4 + 4 * rank`.
    pub fn len(&self) -> usize {
        4 + 4 * self.dims.len()
    }

    /// Always false: a header has at least its magic number.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The largest initial allocation for a payload of unknown plausibility; beyond
/// this the buffer grows with the bytes actually read (never past the declared
/// length), so a lying header cannot exhaust memory.
const MAX_PREALLOC: u64 = 1 << 20;

/// No deflate stream expands more than 1032-fold (258 bytes from one 2-bit code);
/// gzip member headers only lower the ratio. Bounds what a file of a given size can
/// decompress to, so its payload buffer can be allocated at once.
const MAX_GZIP_RATIO: u64 = 1032;

/// The largest allocation made before any payload byte is read, however large the
/// file: a header may still lie about a big file's contents. (The allocation is
/// zeroed lazily by the OS, so the pages cost nothing until written.)
const MAX_FIRST_ALLOC: u64 = 256 << 20;

/// Reads one IDX array from `r`, gzip-compressed or raw (detected from the bytes).
/// Checks the header, the payload length, and for gzip the stream's CRC and size.
pub fn read_idx<R: Read>(r: R) -> Result<IdxArray, IdxError> {
    let mut d = Decoder::new(r, true)?;
    read_from_decoder(&mut d, None)
}

/// Reads one raw (not compressed) IDX array from `r`: gzip bytes are an error
/// with a hint.
pub fn read_idx_uncompressed<R: Read>(r: R) -> Result<IdxArray, IdxError> {
    let mut d = Decoder::new(r, false)?;
    read_from_decoder(&mut d, None)
}

/// Reads an IDX file (gzip or raw); errors name the file.
///
/// The file's length bounds what its payload can be, so a plausible header gets
/// its whole payload buffer at once and the bytes are decompressed (or read)
/// straight into it: no growth, no copy.
pub fn read_idx_file(path: &Path) -> Result<IdxArray, DataError> {
    let f = open_file(path)?;
    let len = f.metadata().ok().map(|m| m.len());
    let named = |error| DataError::Idx {
        path: path.to_path_buf(),
        error,
    };
    let mut d = Decoder::new(f, true).map_err(named)?;
    let bound = len.map(|len| {
        if d.is_gzip() {
            len.saturating_mul(MAX_GZIP_RATIO)
        } else {
            len
        }
    });
    read_from_decoder(&mut d, bound).map_err(named)
}

pub(crate) fn open_file(path: &Path) -> Result<File, DataError> {
    File::open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            DataError::Missing {
                path: path.to_path_buf(),
                also_tried: Vec::new(),
            }
        } else {
            DataError::io(path, "open", e)
        }
    })
}

/// Reads the header and payload; `bound` is an upper limit on the decompressed
/// bytes the input can hold, if known (it sizes the first allocation).
fn read_from_decoder<R: Read>(
    d: &mut Decoder<R>,
    bound: Option<u64>,
) -> Result<IdxArray, IdxError> {
    let (header, _) = d.read_header()?;
    let want = header.payload_bytes;
    let first = bound.map_or(MAX_PREALLOC, |b| b.clamp(MAX_PREALLOC, MAX_FIRST_ALLOC));
    let buf = d.read_payload(want, first)?;
    d.expect_end(want)?;
    let data = decode_payload(header.elem, buf);
    Ok(IdxArray {
        dims: header.dims,
        data,
    })
}

pub(crate) fn decode_payload(elem: IdxType, buf: Vec<u8>) -> IdxData {
    fn conv<T: Default + Clone>(buf: &[u8], size: usize, f: fn(&[u8], &mut [T])) -> Vec<T> {
        let mut v = vec![T::default(); buf.len() / size];
        f(buf, &mut v);
        v
    }
    match elem {
        IdxType::U8 => IdxData::U8(buf),
        IdxType::I8 => IdxData::I8(buf.into_iter().map(|b| b as i8).collect()),
        IdxType::I16 => IdxData::I16(conv(&buf, 2, BigEndian::read_i16_into)),
        IdxType::I32 => IdxData::I32(conv(&buf, 4, BigEndian::read_i32_into)),
        IdxType::F32 => IdxData::F32(conv(&buf, 4, BigEndian::read_f32_into)),
        IdxType::F64 => IdxData::F64(conv(&buf, 8, BigEndian::read_f64_into)),
    }
}

/// Writes `a` as raw IDX bytes (big-endian header and elements).
pub fn write_idx<W: Write>(mut w: W, a: &IdxArray) -> io::Result<()> {
    let mut header = vec![0, 0, a.elem_type().code(), a.rank() as u8];
    for &d in &a.dims {
        header.extend_from_slice(&(d as u32).to_be_bytes());
    }
    w.write_all(&header)?;
    let mut buf = Vec::new();
    match &a.data {
        IdxData::U8(v) => return w.write_all(v),
        IdxData::I8(v) => buf.extend(v.iter().map(|&x| x as u8)),
        IdxData::I16(v) => v
            .iter()
            .for_each(|x| buf.extend_from_slice(&x.to_be_bytes())),
        IdxData::I32(v) => v
            .iter()
            .for_each(|x| buf.extend_from_slice(&x.to_be_bytes())),
        IdxData::F32(v) => v
            .iter()
            .for_each(|x| buf.extend_from_slice(&x.to_be_bytes())),
        IdxData::F64(v) => v
            .iter()
            .for_each(|x| buf.extend_from_slice(&x.to_be_bytes())),
    }
    w.write_all(&buf)
}

/// The IDX bytes of `a`, gzip-compressed if `gzip` (in memory; handy for tests and fixtures).
pub fn encode(a: &IdxArray, gzip: bool) -> Vec<u8> {
    let mut raw = Vec::with_capacity(4 + 4 * a.rank() + a.len() * a.elem_type().size());
    // Writing to a Vec cannot fail.
    let _ = write_idx(&mut raw, a);
    if gzip {
        gzip_bytes(&raw)
    } else {
        raw
    }
}

/// Gzip-compresses `bytes` (level 6) in memory.
pub fn gzip_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// Wraps the underlying reader and remembers whether it failed, so that an error
/// coming out of the gzip decoder can be told apart from a failing reader.
struct Trap<R> {
    inner: R,
    failed: bool,
}

impl<R: Read> Read for Trap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.inner.read(buf);
        if matches!(&r, Err(e) if e.kind() != io::ErrorKind::Interrupted) {
            self.failed = true;
        }
        r
    }
}

type Peeked<R> = Trap<io::Chain<Cursor<Vec<u8>>, R>>;

enum Inner<R: Read> {
    Raw(Peeked<R>),
    Gz(Box<MultiGzDecoder<Peeked<R>>>),
}

/// A reader of the decompressed bytes of an IDX stream, whose errors are
/// classified into [`IdxError`]s.
pub(crate) struct Decoder<R: Read> {
    inner: Inner<R>,
    gzip: bool,
}

impl<R: Read> Decoder<R> {
    /// Peeks at the first two bytes; gzip (`1f 8b`) is decompressed when `allow_gzip`.
    pub(crate) fn new(mut r: R, allow_gzip: bool) -> Result<Decoder<R>, IdxError> {
        let mut peek = [0u8; 2];
        let n = read_full(&mut r, &mut peek).map_err(|error| IdxError::Io { error })?;
        if n == 0 {
            return Err(IdxError::Empty { gzip: false });
        }
        let gzip = allow_gzip && n == 2 && peek == [0x1f, 0x8b];
        let src = Trap {
            inner: Cursor::new(peek[..n].to_vec()).chain(r),
            failed: false,
        };
        let inner = if gzip {
            Inner::Gz(Box::new(MultiGzDecoder::new(src)))
        } else {
            Inner::Raw(src)
        };
        Ok(Decoder { inner, gzip })
    }

    /// Whether the stream is gzip-compressed.
    pub(crate) fn is_gzip(&self) -> bool {
        self.gzip
    }

    fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, IdxError> {
        loop {
            let r = match &mut self.inner {
                Inner::Raw(t) => t.read(buf),
                Inner::Gz(g) => g.read(buf),
            };
            match r {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.classify(e)),
            }
        }
    }

    fn classify(&self, error: io::Error) -> IdxError {
        match &self.inner {
            Inner::Raw(_) => IdxError::Io { error },
            Inner::Gz(g) if g.get_ref().failed => IdxError::Io { error },
            Inner::Gz(_) if error.kind() == io::ErrorKind::UnexpectedEof => IdxError::TruncatedGzip,
            Inner::Gz(_) => IdxError::CorruptGzip {
                message: error.to_string(),
            },
        }
    }

    /// Fills `buf` as far as the stream allows; returns the bytes read.
    pub(crate) fn read_full(&mut self, buf: &mut [u8]) -> Result<usize, IdxError> {
        let mut n = 0;
        while n < buf.len() {
            let k = self.read_some(&mut buf[n..])?;
            if k == 0 {
                break;
            }
            n += k;
        }
        Ok(n)
    }

    /// Reads and checks the header; returns it and its raw bytes.
    pub(crate) fn read_header(&mut self) -> Result<(IdxHeader, Vec<u8>), IdxError> {
        let mut magic = [0u8; 4];
        let n = self.read_full(&mut magic)?;
        if n == 0 {
            return Err(IdxError::Empty { gzip: self.gzip });
        }
        if n >= 2 && (magic[0] != 0 || magic[1] != 0) {
            // Report a wrong magic even in a short file: "<!" is more telling than "truncated".
            return Err(IdxError::BadMagic {
                found: magic,
                gzip: self.gzip,
            });
        }
        if n < 4 {
            return Err(IdxError::TruncatedHeader { got: n, needed: 4 });
        }
        let elem = IdxType::from_code(magic[2]).ok_or(IdxError::UnknownType { code: magic[2] })?;
        let rank = magic[3] as usize;
        if rank == 0 {
            return Err(IdxError::ZeroRank);
        }
        let mut raw = vec![0u8; 4 + 4 * rank];
        raw[..4].copy_from_slice(&magic);
        let m = self.read_full(&mut raw[4..])?;
        if m < 4 * rank {
            return Err(IdxError::TruncatedHeader {
                got: 4 + m,
                needed: 4 + 4 * rank,
            });
        }
        let dims64: Vec<u64> = raw[4..]
            .chunks_exact(4)
            .map(|c| u64::from(BigEndian::read_u32(c)))
            .collect();
        let too_large = |what| IdxError::TooLarge {
            dims: dims64.clone(),
            elem,
            what,
        };
        let elements = dims64
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| too_large("the element count exceeds 64 bits"))?;
        let payload_bytes = elements
            .checked_mul(elem.size() as u64)
            .ok_or_else(|| too_large("the byte count exceeds 64 bits"))?;
        // Both must be addressable on this machine (and payload_bytes fits usize).
        let elements = usize::try_from(elements)
            .ok()
            .filter(|_| {
                usize::try_from(payload_bytes).is_ok() && payload_bytes <= isize::MAX as u64
            })
            .ok_or_else(|| too_large("more bytes than this machine can address"))?;
        let dims = dims64.iter().map(|&d| d as usize).collect();
        Ok((
            IdxHeader {
                elem,
                dims,
                elements,
                payload_bytes,
            },
            raw,
        ))
    }

    /// Feeds up to `want` bytes to `f` in chunks; returns how many were read.
    pub(crate) fn stream(&mut self, want: u64, mut f: impl FnMut(&[u8])) -> Result<u64, IdxError> {
        let mut chunk = vec![0u8; 64 * 1024];
        let mut got = 0u64;
        while got < want {
            let k = (want - got).min(chunk.len() as u64) as usize;
            let n = self.read_some(&mut chunk[..k])?;
            if n == 0 {
                break;
            }
            f(&chunk[..n]);
            got += n as u64;
        }
        Ok(got)
    }

    /// Reads exactly `want` payload bytes straight into one buffer, allocated at
    /// `min(want, first)` bytes and doubled (never past `want`) only while the
    /// bytes keep coming; fewer bytes than `want` is [`IdxError::PayloadTooShort`].
    pub(crate) fn read_payload(&mut self, want: u64, first: u64) -> Result<Vec<u8>, IdxError> {
        // `read_header` checked that `want` fits in usize.
        let want_len = usize::try_from(want).unwrap_or(usize::MAX);
        let mut buf = vec![0u8; usize::try_from(want.min(first)).unwrap_or(want_len)];
        let mut got = 0;
        loop {
            got += self.read_full(&mut buf[got..])?;
            if got < buf.len() || buf.len() == want_len {
                break;
            }
            // Full, and more declared: the bytes are real, so grow.
            let grown = buf.len().saturating_mul(2).max(64 << 10).min(want_len);
            buf.resize(grown, 0);
        }
        if got < want_len {
            return Err(IdxError::PayloadTooShort {
                expected: want,
                got: got as u64,
            });
        }
        Ok(buf)
    }

    /// Checks that the stream ends here (which also checks a gzip trailer's CRC
    /// and size); `expected` is the payload length, for the message.
    pub(crate) fn expect_end(&mut self, expected: u64) -> Result<(), IdxError> {
        let mut chunk = [0u8; 8192];
        let mut extra = 0u64;
        loop {
            let n = self.read_some(&mut chunk)?;
            if n == 0 {
                break;
            }
            extra += n as u64;
        }
        if extra > 0 {
            return Err(IdxError::PayloadTooLong { expected, extra });
        }
        Ok(())
    }
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
