//! The standard ImageNet preprocessing, resize the shorter side to `size` then center-crop
//! `size`×`size`, done as one resampling of the crop's source rectangle (fractional, so the
//! result is that of resizing the whole image and cropping, without computing the discarded
//! part). Convolution filters scale their support with the reduction (antialiasing), as Pillow's.

use std::cell::RefCell;

use clap::ValueEnum;
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::decode::Rgb;

/// The resampling filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Filter {
    /// Antialiased bilinear (triangle), Pillow's BILINEAR and torchvision's default.
    Bilinear,
    /// Antialiased bicubic (Catmull-Rom), Pillow's BICUBIC.
    Bicubic,
    /// Lanczos with 3 lobes, Pillow's LANCZOS.
    Lanczos3,
}

impl Filter {
    fn filter_type(self) -> FilterType {
        match self {
            Filter::Bilinear => FilterType::Bilinear,
            Filter::Bicubic => FilterType::CatmullRom,
            Filter::Lanczos3 => FilterType::Lanczos3,
        }
    }

    /// The filter's name as recorded in meta.
    pub fn name(self) -> &'static str {
        match self {
            Filter::Bilinear => "bilinear",
            Filter::Bicubic => "bicubic",
            Filter::Lanczos3 => "lanczos3",
        }
    }
}

/// Where the crop lies in the resized image and what that resized image's size is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Width of the image after the resize, before the crop.
    pub resized_width: u32,
    /// Height of the image after the resize, before the crop.
    pub resized_height: u32,
    /// The crop's left edge in the resized image.
    pub left: u32,
    /// The crop's top edge in the resized image.
    pub top: u32,
}

/// The shorter side becomes `size`, the longer `floor(size · long / short)` (as torchvision's
/// `Resize(size)`); the crop is centered, an odd leftover pixel going to the right/bottom.
pub fn geometry(width: u32, height: u32, size: u32) -> Geometry {
    let (w, h, s) = (width as u64, height as u64, size as u64);
    let (rw, rh) = if w <= h {
        (s, s * h / w)
    } else {
        (s * w / h, s)
    };
    Geometry {
        resized_width: rw as u32,
        resized_height: rh as u32,
        left: ((rw - s) / 2) as u32,
        top: ((rh - s) / 2) as u32,
    }
}

thread_local! {
    static RESIZER: RefCell<Resizer> = RefCell::new(Resizer::new());
}

/// Resizes and center-crops `img` to `size`×`size` RGB.
pub fn resize_crop(img: &Rgb, size: u32, filter: Filter) -> Result<Vec<u8>, String> {
    if img.width == 0 || img.height == 0 {
        return Err("empty image".into());
    }
    let g = geometry(img.width, img.height, size);
    let sx = g.resized_width as f64 / img.width as f64;
    let sy = g.resized_height as f64 / img.height as f64;
    let src = ImageRef::new(img.width, img.height, &img.pixels, PixelType::U8x3)
        .map_err(|e| format!("cannot resize: {e}"))?;
    let mut dst = Image::new(size, size, PixelType::U8x3);
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(filter.filter_type()))
        .crop(
            g.left as f64 / sx,
            g.top as f64 / sy,
            size as f64 / sx,
            size as f64 / sy,
        );
    RESIZER
        .with(|r| r.borrow_mut().resize(&src, &mut dst, &options))
        .map_err(|e| format!("cannot resize: {e}"))?;
    Ok(dst.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shorter_side_becomes_the_size_and_the_crop_is_centered() {
        assert_eq!(
            geometry(500, 375, 299),
            Geometry {
                resized_width: 398,
                resized_height: 299,
                left: 49,
                top: 0
            }
        );
        assert_eq!(geometry(6, 9, 4).resized_height, 6);
        assert_eq!(geometry(6, 9, 4).top, 1);
        assert_eq!(geometry(10, 10, 4).left, 0);
    }

    #[test]
    fn at_scale_one_the_crop_copies_pixels_exactly() {
        // 7 wide, 4 high, size 4: no scaling, columns 1..5 kept.
        let pixels: Vec<u8> = (0..7 * 4 * 3).map(|i| i as u8).collect();
        let img = Rgb {
            width: 7,
            height: 4,
            pixels: pixels.clone(),
        };
        for filter in [Filter::Bilinear, Filter::Bicubic, Filter::Lanczos3] {
            let out = resize_crop(&img, 4, filter).unwrap();
            for y in 0..4 {
                for x in 0..4 {
                    let src = (y * 7 + x + 1) * 3;
                    assert_eq!(
                        &out[(y * 4 + x) * 3..][..3],
                        &pixels[src..src + 3],
                        "{filter:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_uniform_image_stays_uniform() {
        let img = Rgb {
            width: 50,
            height: 37,
            pixels: [10u8, 200, 77].repeat(50 * 37),
        };
        let out = resize_crop(&img, 13, Filter::Lanczos3).unwrap();
        assert_eq!(out, [10u8, 200, 77].repeat(13 * 13));
    }
}
