//! `.npy` headers (parsed and written with `npyz`) and the few element types a dataset file uses.

use crate::bytes::Bytes;

/// The element types our entries may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    U8,
    U16,
    F32,
}

impl Dtype {
    pub fn descr(self) -> &'static str {
        match self {
            Dtype::U8 => "|u1",
            Dtype::U16 => "<u2",
            Dtype::F32 => "<f4",
        }
    }
    pub fn numpy_name(self) -> &'static str {
        match self {
            Dtype::U8 => "uint8",
            Dtype::U16 => "uint16",
            Dtype::F32 => "float32",
        }
    }
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
    pub descr: String,
    pub dtype: Option<Dtype>,
    pub shape: Vec<usize>,
    pub data: Bytes,
}

/// Parses an `.npy` entry; the data stays a view into `bytes`.
pub fn parse(bytes: &Bytes) -> Result<RawArray, String> {
    let mut rest: &[u8] = bytes;
    let header = npyz::NpyHeader::from_reader(&mut rest)
        .map_err(|e| format!("not a valid .npy array: {e}"))?;
    let header_len = bytes.len() - rest.len();
    let descr = match header.dtype() {
        npyz::DType::Plain(ty) => ty.to_string(),
        other => {
            return Err(format!(
                "structured dtype {} is not supported",
                other.descr()
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
        let want = shape.iter().product::<usize>() * dtype.size();
        if rest.len() < want {
            return Err(format!(
                "array data is truncated: shape {shape:?} needs {want} bytes, found {}",
                rest.len()
            ));
        }
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
