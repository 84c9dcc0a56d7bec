//! The `--grid` picture: images with a caption per image, so a person can see what a corruption did.
//!
//! Each caption is the label the model is trained on, on that class's color. When the file keeps
//! clean labels and this one differs, the image gets a red frame and the caption reads
//! `label/clean` on the two classes' colors. Captions are drawn with a 3×5 pixel digit font so the
//! tool needs no font files.

use anyhow::bail;
use image::{Rgb, RgbImage};
use rethink_dataset::{Dataset, Images, Pixels};

pub enum Selection {
    /// Up to K images of each class (by the label trained on), one row per class.
    PerClass(usize),
    /// The first K images, in rows of ten.
    First(usize),
}

/// Matplotlib's tab10 colors, cycled for more classes.
const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];
const BACKGROUND: Rgb<u8> = Rgb([255, 255, 255]);
const FRAME: Rgb<u8> = Rgb([230, 0, 0]);
const GAP: u32 = 4;
const CAPTION: u32 = 14;
const FONT_SCALE: u32 = 2;

pub fn draw(
    dataset: &Dataset,
    split_name: &str,
    selection: Selection,
    scale: Option<u32>,
) -> anyhow::Result<RgbImage> {
    let split = match split_name {
        "test" => dataset.test.as_ref(),
        _ => dataset.train.as_ref(),
    };
    let Some(split) = split else {
        bail!("--grid: the file has no {split_name} split")
    };
    let clean = if split_name == "train" {
        dataset.train_clean_labels.as_deref()
    } else {
        None
    };
    let images = &split.images;
    let rows: Vec<Vec<usize>> = match selection {
        Selection::PerClass(k) => (0..dataset.num_classes())
            .map(|c| {
                split
                    .labels
                    .iter()
                    .enumerate()
                    .filter(|&(_, &l)| l as usize == c)
                    .map(|(i, _)| i)
                    .take(k)
                    .collect()
            })
            .collect(),
        Selection::First(k) => {
            let all: Vec<usize> = (0..k.min(split.len())).collect();
            all.chunks(10).map(|c| c.to_vec()).collect()
        }
    };
    let columns = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    if columns == 0 {
        bail!("--grid: no images to show in the {split_name} split");
    }
    let (h, w) = (images.height() as u32, images.width() as u32);
    let scale = scale.unwrap_or_else(|| 56u32.div_ceil(w).max(1)).max(1);
    let cell_w = (w * scale).max(3 * 4 * FONT_SCALE * 3);
    let cell_h = h * scale + CAPTION;
    let row_label = 4 * 3 * FONT_SCALE + GAP;
    let width = row_label + columns as u32 * (cell_w + GAP) + GAP;
    let height = rows.len() as u32 * (cell_h + GAP) + GAP;
    let mut canvas = RgbImage::from_pixel(width, height, BACKGROUND);
    let (lo, hi) = display_range(images);

    for (r, row) in rows.iter().enumerate() {
        let y0 = GAP + r as u32 * (cell_h + GAP);
        if let Selection::PerClass(_) = selection {
            draw_text(
                &mut canvas,
                GAP,
                y0 + (h * scale) / 2,
                &r.to_string(),
                Rgb(color(r)),
            );
        }
        for (col, &i) in row.iter().enumerate() {
            let x0 = row_label + GAP + col as u32 * (cell_w + GAP);
            let xi = x0 + (cell_w - w * scale) / 2;
            blit(&mut canvas, images, i, xi, y0, scale, (lo, hi));
            let label = split.labels[i] as usize;
            let caption_y = y0 + h * scale + 1;
            match clean.map(|c| c[i] as usize) {
                Some(truth) if truth != label => {
                    frame(&mut canvas, xi, y0, w * scale, h * scale);
                    let half = cell_w / 2;
                    fill(
                        &mut canvas,
                        x0,
                        caption_y,
                        half,
                        CAPTION - 2,
                        Rgb(color(label)),
                    );
                    fill(
                        &mut canvas,
                        x0 + half,
                        caption_y,
                        cell_w - half,
                        CAPTION - 2,
                        Rgb(color(truth)),
                    );
                    let text = format!("{label}/{truth}");
                    draw_text(
                        &mut canvas,
                        x0 + 2,
                        caption_y + 1,
                        &text,
                        text_color(color(label)),
                    );
                }
                _ => {
                    fill(
                        &mut canvas,
                        x0,
                        caption_y,
                        cell_w,
                        CAPTION - 2,
                        Rgb(color(label)),
                    );
                    draw_text(
                        &mut canvas,
                        x0 + 2,
                        caption_y + 1,
                        &label.to_string(),
                        text_color(color(label)),
                    );
                }
            }
        }
    }
    Ok(canvas)
}

fn color(class: usize) -> [u8; 3] {
    PALETTE[class % PALETTE.len()]
}

fn text_color(bg: [u8; 3]) -> Rgb<u8> {
    let luma = 0.299 * bg[0] as f32 + 0.587 * bg[1] as f32 + 0.114 * bg[2] as f32;
    if luma > 150.0 {
        Rgb([0, 0, 0])
    } else {
        Rgb([255, 255, 255])
    }
}

/// Float images (Gaussian) are shown over mean ± 3 std; uint8 images as they are.
fn display_range(images: &Images) -> (f32, f32) {
    match images.pixels() {
        Pixels::U8(_) => (0.0, 255.0),
        Pixels::F32(v) => {
            let n = v.len().max(1) as f64;
            let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
            let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
            let sd = var.sqrt().max(1e-6);
            ((mean - 3.0 * sd) as f32, (mean + 3.0 * sd) as f32)
        }
    }
}

fn blit(
    canvas: &mut RgbImage,
    images: &Images,
    i: usize,
    x0: u32,
    y0: u32,
    scale: u32,
    (lo, hi): (f32, f32),
) {
    let (h, w, c) = (images.height(), images.width(), images.channels());
    let base = i * images.image_len();
    for y in 0..h {
        for x in 0..w {
            let at = base + (y * w + x) * c;
            let mut px = [0u8; 3];
            for (k, p) in px.iter_mut().enumerate() {
                let v = images.value(at + if c >= 3 { k } else { 0 });
                *p = (((v - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0).round() as u8;
            }
            for dy in 0..scale {
                for dx in 0..scale {
                    canvas.put_pixel(
                        x0 + x as u32 * scale + dx,
                        y0 + y as u32 * scale + dy,
                        Rgb(px),
                    );
                }
            }
        }
    }
}

fn fill(canvas: &mut RgbImage, x0: u32, y0: u32, w: u32, h: u32, c: Rgb<u8>) {
    for y in y0..(y0 + h).min(canvas.height()) {
        for x in x0..(x0 + w).min(canvas.width()) {
            canvas.put_pixel(x, y, c);
        }
    }
}

fn frame(canvas: &mut RgbImage, x0: u32, y0: u32, w: u32, h: u32) {
    let (x0, y0) = (x0.saturating_sub(2), y0.saturating_sub(2));
    let (w, h) = (w + 4, h + 4);
    fill(canvas, x0, y0, w, 2, FRAME);
    fill(canvas, x0, y0 + h - 2, w, 2, FRAME);
    fill(canvas, x0, y0, 2, h, FRAME);
    fill(canvas, x0 + w - 2, y0, 2, h, FRAME);
}

/// 3×5 glyphs for 0-9 and '/', one row of three bits per entry, top to bottom.
fn glyph(ch: char) -> [u8; 5] {
    match ch {
        '0' => [0b111, 0b101, 0b101, 0b101, 0b111],
        '1' => [0b010, 0b110, 0b010, 0b010, 0b111],
        '2' => [0b111, 0b001, 0b111, 0b100, 0b111],
        '3' => [0b111, 0b001, 0b111, 0b001, 0b111],
        '4' => [0b101, 0b101, 0b111, 0b001, 0b001],
        '5' => [0b111, 0b100, 0b111, 0b001, 0b111],
        '6' => [0b111, 0b100, 0b111, 0b101, 0b111],
        '7' => [0b111, 0b001, 0b010, 0b010, 0b010],
        '8' => [0b111, 0b101, 0b111, 0b101, 0b111],
        '9' => [0b111, 0b101, 0b111, 0b001, 0b111],
        '/' => [0b001, 0b001, 0b010, 0b100, 0b100],
        _ => [0; 5],
    }
}

fn draw_text(canvas: &mut RgbImage, x0: u32, y0: u32, text: &str, c: Rgb<u8>) {
    for (n, ch) in text.chars().enumerate() {
        let gx = x0 + n as u32 * 4 * FONT_SCALE;
        for (row, bits) in glyph(ch).iter().enumerate() {
            for col in 0..3 {
                if bits & (0b100 >> col) != 0 {
                    fill(
                        canvas,
                        gx + col * FONT_SCALE,
                        y0 + row as u32 * FONT_SCALE,
                        FONT_SCALE,
                        FONT_SCALE,
                        c,
                    );
                }
            }
        }
    }
}
