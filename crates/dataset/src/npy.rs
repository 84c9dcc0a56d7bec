//! `.npy` headers (parsed and written with `npyz`) and the few element types a dataset file uses.

use crate::bytes::Bytes;
use crate::limits::printable;

/// The element types our entries may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    /// Unsigned 8-bit (`|u1`): pixels, labels of up to 256 classes, masks.
    U8,
    /// Little-endian unsigned 16-bit (`<u2`): labels of more than 256 classes.
    U16,
    /// Little-endian 32-bit float (`<f4`): float pixels (e.g. after `corrupt --gaussian`).
    F32,
}

impl Dtype {
    /// The numpy type string written in `.npy` headers.
    pub fn descr(self) -> &'static str {
        match self {
            Dtype::U8 => "|u1",
            Dtype::U16 => "<u2",
            Dtype::F32 => "<f4",
        }
    }
    /// The numpy dtype name, as messages and `inspect` show it.
    pub fn numpy_name(self) -> &'static str {
        match self {
            Dtype::U8 => "uint8",
            Dtype::U16 => "uint16",
            Dtype::F32 => "float32",
        }
    }
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::U8 => 1,
            Dtype::U16 => 2,
            Dtype::F32 => 4,
        }
    }
}

/// A parsed `.npy` entry: its numpy type string, shape, and the raw little-endian data.
pub struct RawArray {
    /// The type string as found in the header.
    pub descr: String,
    /// The element type, when it is one of ours.
    pub dtype: Option<Dtype>,
    /// The array shape.
    pub shape: Vec<usize>,
    /// The array's bytes, little-endian, C order (a view into the input when possible).
    pub data: Bytes,
}

/// Parses an `.npy` entry; the data stays a view into `bytes`.
pub fn parse(bytes: &Bytes) -> Result<RawArray, String> {
    check_header(bytes)?;
    let mut rest: &[u8] = bytes;
    let header = npyz::NpyHeader::from_reader(&mut rest)
        .map_err(|e| format!("not a valid .npy array: {}", printable(&e.to_string(), 200)))?;
    let header_len = bytes.len() - rest.len();
    let descr = match header.dtype() {
        npyz::DType::Plain(ty) => ty.to_string(),
        other => {
            return Err(format!(
                "structured dtype {} is not supported",
                printable(&other.descr(), 80)
            ));
        }
    };
    if header.order() == npyz::Order::Fortran
        && header.shape().iter().filter(|&&d| d > 1).count() > 1
    {
        return Err(
            "Fortran-ordered arrays are not supported; save with np.ascontiguousarray".into(),
        );
    }
    let dtype = match descr.as_str() {
        "|u1" | "<u1" => Some(Dtype::U8),
        "<u2" => Some(Dtype::U16),
        "<f4" => Some(Dtype::F32),
        _ => None,
    };
    let shape: Vec<usize> = header.shape().iter().map(|&d| d as usize).collect();
    if let Some(dtype) = dtype {
        let want = shape
            .iter()
            .try_fold(dtype.size(), |n, &d| n.checked_mul(d))
            .filter(|&want| want <= rest.len())
            .ok_or_else(|| {
                format!(
                    "array data is truncated: shape {shape:?} needs {} bytes, found {}",
                    shape
                        .iter()
                        .try_fold(dtype.size() as u128, |n, &d| n.checked_mul(d as u128))
                        .map_or("more than 2^128".into(), |n| n.to_string()),
                    rest.len()
                )
            })?;
        let data = bytes.slice(header_len..header_len + want);
        if let Some(crc) = bytes.known_crc32()
            && header_len + want == bytes.len()
        {
            // The entry's CRC was verified: derive the array's, so an unchanged array is
            // written again without hashing it.
            data.know_crc32(crate::bytes::crc32_of_tail(
                crc,
                &bytes[..header_len],
                want as u64,
            ));
        }
        return Ok(RawArray {
            descr,
            dtype: Some(dtype),
            shape,
            data,
        });
    }
    Ok(RawArray {
        descr,
        dtype: None,
        shape,
        data: bytes.slice(header_len..bytes.len()),
    })
}

/// The longest header accepted; numpy itself refuses more than 10,000 bytes unless told otherwise.
const MAX_HEADER: usize = 1 << 16;
/// The deepest bracket nesting accepted in a header (numpy's have 2 or 3 levels).
const MAX_NESTING: usize = 32;

/// Checks what `npyz` would otherwise trust: that the declared header length is present and
/// sane, that the header is not nested deeply enough to exhaust the parser's stack, and that the
/// shape's element count fits in 64 bits (counting zero dimensions as one, as strides do).
fn check_header(bytes: &[u8]) -> Result<(), String> {
    let prefix = match bytes.get(..8) {
        Some([0x93, b'N', b'U', b'M', b'P', b'Y', 1, _]) => 10,
        Some([0x93, b'N', b'U', b'M', b'P', b'Y', 2 | 3, _]) => 12,
        // Not an .npy header, or an unknown version: npyz says which.
        _ => return Ok(()),
    };
    let Some(len) = bytes.get(8..prefix) else {
        return Err("not a valid .npy array: truncated header".into());
    };
    let len = len
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | b as usize);
    if len > MAX_HEADER || prefix + len > bytes.len() {
        return Err(format!(
            "not a valid .npy array: header of {len} bytes declared, {} present (at most {MAX_HEADER})",
            bytes.len() - prefix
        ));
    }
    let text = &bytes[prefix..prefix + len];
    let mut depth = 0usize;
    for &b in text {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_NESTING {
            return Err(format!(
                "not a valid .npy array: header nested more than {MAX_NESTING} levels"
            ));
        }
    }
    for key in [&b"'shape'"[..], &b"\"shape\""[..]] {
        let mut from = 0;
        while let Some(at) = find(&text[from..], key) {
            from += at + key.len();
            check_shape(&text[from..])?;
        }
    }
    Ok(())
}

/// Checks the tuple after a `'shape'` key: decimal dimensions whose product fits in 64 bits.
fn check_shape(after_key: &[u8]) -> Result<(), String> {
    let rest = after_key.trim_ascii_start();
    let Some(rest) = rest.strip_prefix(b":") else {
        return Ok(());
    };
    let rest = rest.trim_ascii_start();
    let Some(rest) = rest.strip_prefix(b"(").or_else(|| rest.strip_prefix(b"[")) else {
        return Ok(());
    };
    let end = rest
        .iter()
        .position(|&b| b == b')' || b == b']')
        .unwrap_or(rest.len());
    let mut count: u64 = 1;
    for dim in rest[..end].split(|&b| b == b',') {
        let dim = dim.trim_ascii();
        let digits = dim.strip_suffix(b"L").unwrap_or(dim);
        if dim.is_empty() {
            continue;
        }
        let value = std::str::from_utf8(digits)
            .ok()
            .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                format!(
                    "not a valid .npy array: shape dimension '{}' is not a decimal integer",
                    printable(&String::from_utf8_lossy(dim), 40)
                )
            })?
            .parse::<u64>()
            .ok();
        count = value
            .and_then(|d| count.checked_mul(d.max(1)))
            .ok_or_else(|| {
                format!(
                    "not a valid .npy array: shape ({}) has more than 2^64 elements",
                    printable(&String::from_utf8_lossy(&rest[..end]), 80)
                )
            })?;
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The `.npy` header for an array; its length is a multiple of 64, so data stays aligned.
pub fn header(dtype: Dtype, shape: &[usize]) -> Vec<u8> {
    use npyz::WriterBuilder;
    let ty: npyz::TypeStr = dtype.descr().parse().expect("valid type string");
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut out = Vec::with_capacity(128);
    npyz::WriteOptions::new_header_only()
        .dtype(npyz::DType::new_scalar(ty))
        .shape(&shape)
        .writer(&mut out)
        .write_header_only()
        .expect("writing to a Vec cannot fail");
    out
}
