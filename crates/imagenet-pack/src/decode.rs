//! Turning one image file into 8-bit RGB, whatever it holds: ImageNet has baseline and
//! progressive JPEGs, grayscale JPEGs, CMYK JPEGs written by Photoshop (Adobe, inverted), a PNG
//! named `.JPEG`, and some truncated files. The format is taken from the magic bytes, not the
//! name; a JPEG whose entropy-coded data has no end marker is reported as truncated instead of
//! being silently padded with gray, as lenient decoders do.
//!
//! The dimensions a file declares are checked before any pixel buffer is made: an image may
//! decode to at most a set number of bytes ([`MAX_DECODED`], lowered by `RETHINK_MAX_EXPAND`), so
//! a small file declaring 60000×60000 pixels (a decompression bomb) is refused from its header.

use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

/// An 8-bit RGB image, rows top to bottom, pixels R, G, B.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rgb {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The pixels, `width * height * 3` bytes.
    pub pixels: Vec<u8>,
}

/// The most bytes one image may decode to by default: 256 MiB, e.g. 9,000×9,000 RGB (ImageNet's
/// largest images are under a third of that).
pub const MAX_DECODED: u64 = 1 << 28;

/// Decodes a JPEG, PNG (or any format `image` was built with) to RGB, refusing an image whose
/// declared dimensions would decode to more than `max_bytes` (see [`MAX_DECODED`]).
pub fn decode(bytes: &[u8], max_bytes: u64) -> Result<Rgb, String> {
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        decode_jpeg(bytes, max_bytes)
    } else {
        let cannot = |e: image::ImageError| format!("cannot decode: {}", one_line(&e));
        let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| format!("cannot decode: {}", one_line(&e)))?;
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(max_bytes);
        reader.limits(limits);
        let decoder = reader.into_decoder().map_err(cannot)?;
        let (width, height) = image::ImageDecoder::dimensions(&decoder);
        let per_pixel = image::ImageDecoder::color_type(&decoder)
            .bytes_per_pixel()
            .max(3);
        check_size(width as u64, height as u64, per_pixel as u64, max_bytes)?;
        let img = image::DynamicImage::from_decoder(decoder).map_err(cannot)?;
        let rgb = img.to_rgb8();
        Ok(Rgb {
            width: rgb.width(),
            height: rgb.height(),
            pixels: rgb.into_raw(),
        })
    }
}

/// A decoder's message as one printable line: zune-jpeg's end in a newline (found by the
/// fuzz harness; `tests/fuzz/` keeps the inputs).
fn one_line(e: &dyn std::fmt::Display) -> String {
    rethink_dataset::printable(e.to_string().trim(), 200)
}

/// Refuses dimensions whose pixels would take more than `max_bytes`.
fn check_size(width: u64, height: u64, per_pixel: u64, max_bytes: u64) -> Result<(), String> {
    let bytes = width.saturating_mul(height).saturating_mul(per_pixel);
    if bytes > max_bytes {
        return Err(format!(
            "decompression bomb: declares {width}x{height} pixels ({bytes} bytes decoded), more than the {max_bytes} bytes an image may decode to"
        ));
    }
    Ok(())
}

fn decode_jpeg(bytes: &[u8], max_bytes: u64) -> Result<Rgb, String> {
    if !jpeg_is_complete(bytes) {
        return Err("truncated JPEG: no end-of-image marker after the last scan".into());
    }
    let options = DecoderOptions::default()
        .set_max_width(1 << 16)
        .set_max_height(1 << 16);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder
        .decode_headers()
        .map_err(|e| format!("cannot decode JPEG: {}", one_line(&e)))?;
    let (w, h) = decoder.dimensions().expect("headers were decoded");
    let input = decoder.input_colorspace().expect("headers were decoded");
    let per_pixel = if input == ColorSpace::CMYK { 4 } else { 3 };
    check_size(w as u64, h as u64, per_pixel, max_bytes)?;
    // CMYK is converted here (zune's own conversion assumes Adobe-inverted data); everything
    // else (YCbCr, grayscale, YCCK) is converted to RGB by the decoder.
    let out = if input == ColorSpace::CMYK {
        ColorSpace::CMYK
    } else {
        ColorSpace::RGB
    };
    decoder.set_options(options.jpeg_set_out_colorspace(out));
    let pixels = decoder
        .decode()
        .map_err(|e| format!("cannot decode JPEG: {}", one_line(&e)))?;
    let pixels = if input == ColorSpace::CMYK {
        cmyk_to_rgb(&pixels, adobe_transform(bytes).is_some())
    } else {
        pixels
    };
    if pixels.len() != w * h * 3 {
        return Err(format!(
            "cannot decode JPEG: {} values for {w}x{h} RGB",
            pixels.len()
        ));
    }
    Ok(Rgb {
        width: w as u32,
        height: h as u32,
        pixels,
    })
}

/// CMYK → RGB as libjpeg/Pillow do: R = (1 − C)(1 − K). Adobe (Photoshop) files store the
/// values inverted, 255 meaning no ink, so there R = C'·K'/255.
pub fn cmyk_to_rgb(cmyk: &[u8], adobe_inverted: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let [c, m, y, k] = if adobe_inverted {
            [px[0], px[1], px[2], px[3]]
        } else {
            [255 - px[0], 255 - px[1], 255 - px[2], 255 - px[3]]
        };
        for v in [c, m, y] {
            out.push(((v as u32 * k as u32 + 127) / 255) as u8);
        }
    }
    out
}

/// The transform byte of an Adobe APP14 segment, when the JPEG has one.
pub fn adobe_transform(bytes: &[u8]) -> Option<u8> {
    let mut pos = 2;
    while pos + 4 <= bytes.len() {
        if bytes[pos] != 0xff {
            return None;
        }
        let marker = bytes[pos + 1];
        if marker == 0xff {
            pos += 1;
            continue;
        }
        if marker == 0xda || marker == 0xd9 {
            return None;
        }
        let len = u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]) as usize;
        let data = bytes.get(pos + 4..pos + 2 + len)?;
        if marker == 0xee && data.len() >= 12 && data.starts_with(b"Adobe") {
            return Some(data[11]);
        }
        pos += 2 + len;
    }
    None
}

/// True when an end-of-image marker (FF D9) follows the last start-of-scan (FF DA). Neither
/// can occur inside entropy-coded data (0xFF is stuffed there), and an embedded EXIF thumbnail
/// comes before the main image's scans, so a file cut anywhere in or after its first scan fails.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last = |second: u8| bytes.windows(2).rposition(|w| w == [0xff, second]);
    match (last(0xda), last(0xd9)) {
        (Some(sos), Some(eoi)) => eoi > sos,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmyk_conversion_matches_libjpeg_for_both_conventions() {
        // No ink → white; full black → black; 50% cyan → R halves.
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 0], false), [255, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 255], false), [0, 0, 0]);
        assert_eq!(cmyk_to_rgb(&[128, 0, 0, 0], false), [127, 255, 255]);
        // The same colours stored the Adobe way.
        assert_eq!(cmyk_to_rgb(&[255, 255, 255, 255], true), [255, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[127, 255, 255, 255], true), [127, 255, 255]);
        assert_eq!(cmyk_to_rgb(&[255, 255, 255, 0], true), [0, 0, 0]);
    }

    #[test]
    fn a_jpeg_is_complete_only_with_an_end_marker_after_the_last_scan() {
        assert!(jpeg_is_complete(&[
            0xff, 0xd8, 0xff, 0xda, 1, 2, 0xff, 0xd9
        ]));
        assert!(!jpeg_is_complete(&[0xff, 0xd8, 0xff, 0xda, 1, 2, 3]));
        // A thumbnail's end marker before the main scan does not count.
        assert!(!jpeg_is_complete(&[0xff, 0xd9, 0xff, 0xda, 1, 2]));
    }
}
