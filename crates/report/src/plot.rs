//! Drawing a [`Figure`] (line series, optional shaded bands) to PNG or SVG bytes with plotters,
//! using the font embedded in the binary so that no system font is needed.

use std::io::Cursor;
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::figures::{Figure, Series};

const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans-subset.ttf");

/// Tableau 10: distinguishable, and readable in grey print.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are compiled in and known to parse (a test renders text with them).
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES);
    });
}

/// The colour of [`Series::color`] `i` (the palette repeats after ten).
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// PNG bytes of `fig`, `size` pixels.
pub fn png(fig: &Figure, size: (u32, u32)) -> Result<Vec<u8>> {
    register_font();
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        draw(&root, fig)?;
        root.present()
            .map_err(|e| anyhow!("drawing {}: {e:?}", fig.id))?;
    }
    let img = image::RgbImage::from_raw(size.0, size.1, rgb)
        .ok_or_else(|| anyhow!("drawing {}: pixel buffer has the wrong size", fig.id))?;
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// SVG text of `fig`, `size` pixels.
pub fn svg(fig: &Figure, size: (u32, u32)) -> Result<String> {
    register_font();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        draw(&root, fig)?;
        root.present()
            .map_err(|e| anyhow!("drawing {}: {e:?}", fig.id))?;
    }
    Ok(text)
}

fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if (hi - lo).abs() < 1e-12 {
        let d = if lo.abs() > 1e-12 {
            lo.abs() * 0.1
        } else {
            1.0
        };
        return (lo - d, hi + d);
    }
    let pad = (hi - lo) * 0.04;
    (lo - pad, hi + pad)
}

/// Tick labels with as many decimals as the axis span needs ("20", "0.5", "0.05").
fn tick_formatter(span: f64) -> impl Fn(&f64) -> String {
    let decimals = if span >= 20.0 {
        0
    } else if span >= 0.9 {
        1
    } else {
        2
    };
    move |v: &f64| format!("{v:.decimals$}")
}

/// `fig` with its logarithmic axes in log10 units (non-positive values dropped), so that the
/// charts stay linear and only the tick labels say 10^v.
fn in_log_units(fig: &Figure) -> Figure {
    let tx = |x: f64| if fig.log_x { x.log10() } else { x };
    let ty = |y: f64| if fig.log_y { y.log10() } else { y };
    let ok = |x: f64, y: f64| (!fig.log_x || x > 0.0) && (!fig.log_y || y > 0.0);
    let mut out = fig.clone();
    for s in &mut out.series {
        s.points = s
            .points
            .iter()
            .filter(|p| ok(p.0, p.1))
            .map(|&(x, y)| (tx(x), ty(y)))
            .collect();
        s.band_to = s.band_to.as_ref().map(|b| {
            b.iter()
                .filter(|p| ok(p.0, p.1))
                .map(|&(x, y)| (tx(x), ty(y)))
                .collect()
        });
        s.seed_band = s.seed_band.as_ref().map(|b| {
            b.iter()
                .filter(|p| ok(p.0, p.1) && ok(p.0, p.2))
                .map(|&(x, lo, hi)| (tx(x), ty(lo), ty(hi)))
                .collect()
        });
    }
    out.x_range = fig.x_range.map(|(a, b)| (tx(a), tx(b)));
    out.y_range = fig.y_range.map(|(a, b)| (ty(a), ty(b)));
    out
}

/// Tick labels of a log10 axis: the value 10^v with two significant digits ("0.05", "3.2", "20").
fn pow10_label(v: &f64) -> String {
    let x = 10f64.powf(*v);
    let decimals = (1 - x.log10().floor() as i32).max(0) as usize;
    format!("{x:.decimals$}")
}

/// A legend line: name, colour, dashed, thin.
type LegendEntry = (String, usize, bool, bool);

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure) -> Result<()> {
    let logged;
    let fig = if fig.log_x || fig.log_y {
        logged = in_log_units(fig);
        &logged
    } else {
        fig
    };
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing {}: {e:?}", fig.id);
    root.fill(&WHITE).map_err(err)?;

    // One axis range for all panels, so that small multiples compare at a glance; seed bands
    // included, so that no band is cut off.
    let xs = fig.series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = fig.series.iter().flat_map(|s| {
        s.points.iter().map(|p| p.1).chain(
            s.seed_band
                .iter()
                .flat_map(|b| b.iter().flat_map(|&(_, lo, hi)| [lo, hi])),
        )
    });
    let (x_lo, x_hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let (y_lo, y_hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    let x = fig.x_range.unwrap_or_else(|| {
        let (lo, hi) = padded(x_lo.min(if fig.x_from_zero { 0.0 } else { x_lo }), x_hi);
        (if fig.x_from_zero { 0.0 } else { lo }, hi)
    });
    let y = fig
        .y_range
        .unwrap_or_else(|| padded(if fig.log_y { y_lo } else { y_lo.min(0.0) }, y_hi));

    let (w, h) = root.dim_in_pixel();
    let scale = (w.min(h * 4 / 3) as f64 / 800.0).max(0.5);
    let px = |v: f64| (v * scale).round() as u32;
    let title_font = (FONT, px(24.0) as f64).into_font();
    let body = root.titled(&fig.title, title_font).map_err(err)?;

    // The legend goes in a strip right of the data: one entry per name and colour, shared by
    // all panels (a condition has one colour in every panel).
    let mut entries: Vec<LegendEntry> = Vec::new();
    for s in fig.series.iter().filter(|s| s.in_legend) {
        let e = (s.name.clone(), s.color, s.dashed, s.thin);
        if !entries.contains(&e) {
            entries.push(e);
        }
    }
    let legend_font_px = px(14.0).max(9);
    let body = if entries.is_empty() {
        body
    } else {
        let longest = entries
            .iter()
            .map(|e| e.0.chars().count())
            .chain(legend_notes(fig).iter().map(|n| n.chars().count() * 9 / 10))
            .max()
            .unwrap_or(0) as f64;
        let want = (longest * legend_font_px as f64 * 0.5) as u32 + px(28.0) + px(24.0);
        let legend_w = want.min(w * 2 / 5);
        let (plot, legend) = body.split_horizontally(w.saturating_sub(legend_w));
        draw_legend(&legend, fig, &entries, legend_font_px, scale)?;
        plot
    };

    if fig.panels.len() <= 1 {
        let series: Vec<&Series> = fig.series.iter().collect();
        return draw_chart(&body, fig, "", &series, x, y, scale);
    }
    let n = fig.panels.len();
    let cols = (n as f64).sqrt().ceil() as usize;
    let rows = n.div_ceil(cols);
    let areas = body.split_evenly((rows, cols));
    let (pw, ph) = areas[0].dim_in_pixel();
    let panel_scale = (pw.min(ph * 4 / 3) as f64 / 800.0).max(0.8);
    for (p, (area, title)) in areas.iter().zip(&fig.panels).enumerate() {
        let series: Vec<&Series> = fig.series.iter().filter(|s| s.panel == p).collect();
        draw_chart(area, fig, title, &series, x, y, panel_scale)?;
    }
    Ok(())
}

/// Lines under the legend that say what the shading means.
fn legend_notes(fig: &Figure) -> Vec<&'static str> {
    let mut notes = Vec::new();
    if fig.series.iter().any(|s| s.seed_band.is_some()) {
        notes.push("pale band: range over seeds");
    }
    if fig.series.iter().any(|s| s.band_to.is_some()) {
        notes.push("shaded up to the thin line:");
        notes.push("best so far (early stopping)");
    }
    notes
}

/// The legend strip: a short line in each entry's colour and style, then its name.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &Figure,
    entries: &[LegendEntry],
    font_px: u32,
    scale: f64,
) -> Result<()> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing {}: {e:?}", fig.id);
    let px = |v: f64| (v * scale).round() as i32;
    let font = (FONT, font_px as f64).into_font().color(&BLACK);
    let line_h = (font_px as f64 * 1.6) as i32;
    let len = px(28.0);
    let x0 = px(8.0);
    let mut y = px(40.0);
    for (name, c, dashed, thin) in entries {
        let style = ShapeStyle {
            color: color(*c).to_rgba(),
            filled: false,
            stroke_width: if *thin {
                1
            } else {
                (2.5 * scale).round().max(1.0) as u32
            },
        };
        let path = vec![(x0, y), (x0 + len, y)];
        if *dashed {
            area.draw(&plotters::element::DashedPathElement::new(
                path, 6, 4, style,
            ))
            .map_err(err)?;
        } else {
            area.draw(&PathElement::new(path, style)).map_err(err)?;
        }
        area.draw(&Text::new(
            name.clone(),
            (x0 + len + px(8.0), y - font_px as i32 / 2),
            font.clone(),
        ))
        .map_err(err)?;
        y += line_h;
    }
    let grey = (FONT, font_px as f64 * 0.9)
        .into_font()
        .color(&RGBColor(90, 90, 90));
    for note in legend_notes(fig) {
        area.draw(&Text::new(note.to_string(), (x0, y), grey.clone()))
            .map_err(err)?;
        y += line_h * 4 / 5;
    }
    Ok(())
}

/// One chart: `caption` above, `series` drawn in the ranges `x` and `y`, sizes by `scale`.
fn draw_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &Figure,
    caption: &str,
    series: &[&Series],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    scale: f64,
) -> Result<()> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing {}: {e:?}", fig.id);
    let px = |v: f64| (v * scale).round() as u32;
    let title_font = (FONT, px(24.0) as f64).into_font();
    let label_font = (FONT, px(17.0) as f64).into_font();
    let tick_font = (FONT, px(14.0) as f64).into_font();

    let mut builder = ChartBuilder::on(root);
    if !caption.is_empty() {
        builder.caption(caption, title_font);
    }
    let mut chart = builder
        .margin(px(16.0))
        .x_label_area_size(px(56.0))
        .y_label_area_size(px(72.0))
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    let (x_lin, y_lin) = (tick_formatter(x1 - x0), tick_formatter(y1 - y0));
    let x_fmt = |v: &f64| if fig.log_x { pow10_label(v) } else { x_lin(v) };
    let y_fmt = |v: &f64| if fig.log_y { pow10_label(v) } else { y_lin(v) };
    // As many x ticks as their labels (up to about 5 characters) have room for: small
    // multiples have narrow panels.
    let plot_w = f64::from(root.dim_in_pixel().0) - f64::from(px(72.0) + 2 * px(16.0));
    let x_ticks = ((plot_w / (f64::from(px(14.0)) * 5.0)) as usize).clamp(3, 10);
    chart
        .configure_mesh()
        .x_labels(x_ticks)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .x_desc(&fig.x_label)
        .y_desc(&fig.y_label)
        .axis_desc_style(label_font)
        .label_style(tick_font.clone())
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(err)?;

    // Bands first, so that lines stay on top of them: the seeds' range, palest.
    for s in series {
        if let Some(band) = &s.seed_band {
            let mut poly: Vec<(f64, f64)> = band.iter().map(|&(x, _, hi)| (x, hi)).collect();
            poly.extend(band.iter().rev().map(|&(x, lo, _)| (x, lo)));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    poly,
                    color(s.color).mix(0.14).filled(),
                )))
                .map_err(err)?;
        }
    }
    for s in series {
        if let Some(lower) = &s.band_to {
            let mut poly: Vec<(f64, f64)> = s.points.clone();
            poly.extend(lower.iter().rev().copied());
            chart
                .draw_series(std::iter::once(Polygon::new(
                    poly,
                    color(s.color).mix(0.18).filled(),
                )))
                .map_err(err)?;
        }
    }
    let line_width = px(2.5).max(1);
    for s in series {
        let c = color(s.color);
        let style = ShapeStyle {
            color: c.to_rgba(),
            filled: false,
            stroke_width: if s.thin { px(1.2).max(1) } else { line_width },
        };
        if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(
                    s.points.clone(),
                    px(9.0),
                    px(5.0),
                    style,
                ))
                .map_err(err)?;
        } else if fig.markers {
            chart
                .draw_series(LineSeries::new(s.points.clone(), style).point_size(px(4.0)))
                .map_err(err)?;
        } else {
            chart
                .draw_series(LineSeries::new(s.points.clone(), style))
                .map_err(err)?;
        }
    }
    Ok(())
}
