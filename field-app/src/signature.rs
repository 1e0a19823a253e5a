//! The customer's signature, drawn with a finger on the tablet's screen: strokes of points
//! become a small PNG (black ink on white), kept and uploaded as photos are.

use fieldsync_protocol::ContentHash;
use fieldsync_protocol::validate::MAX_SIGNATURE_BYTES;

use crate::photo::{EncodedImage, PhotoError};

/// The signature picture's size in pixels: wide and short, like the line on a paper form.
pub const WIDTH: u32 = 600;
/// Its height.
pub const HEIGHT: u32 = 200;

/// A stroke: the points a finger passed through, in pixels of a [`WIDTH`] × [`HEIGHT`] pad.
pub type Stroke = Vec<(f32, f32)>;

/// Draws `strokes` (in pixels of a [`WIDTH`] × [`HEIGHT`] pad; points outside are clipped) as
/// a PNG. Refused when there is nothing to see: no stroke, or only single taps.
pub fn render(strokes: &[Stroke]) -> Result<EncodedImage, PhotoError> {
    let drawn: Vec<&Stroke> = strokes
        .iter()
        .filter(|s| s.len() >= 2 && s.iter().all(|(x, y)| x.is_finite() && y.is_finite()))
        .collect();
    if drawn.is_empty() {
        return Err(PhotoError::Unreadable(
            "the signature is empty: ask the customer to sign in the box".into(),
        ));
    }
    let mut pixmap = tiny_skia::Pixmap::new(WIDTH, HEIGHT)
        .ok_or_else(|| PhotoError::Encode("no room for the signature".into()))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    let mut path = tiny_skia::PathBuilder::new();
    for stroke in drawn {
        let clamp = |(x, y): (f32, f32)| (x.clamp(0.0, WIDTH as f32), y.clamp(0.0, HEIGHT as f32));
        let (x, y) = clamp(stroke[0]);
        path.move_to(x, y);
        for point in &stroke[1..] {
            let (x, y) = clamp(*point);
            path.line_to(x, y);
        }
    }
    let path = path
        .finish()
        .ok_or_else(|| PhotoError::Unreadable("the signature has no line in it".into()))?;
    let mut ink = tiny_skia::Paint::default();
    ink.set_color_rgba8(16, 20, 24, 255);
    ink.anti_alias = true;
    let pen = tiny_skia::Stroke {
        width: 3.0,
        line_cap: tiny_skia::LineCap::Round,
        line_join: tiny_skia::LineJoin::Round,
        ..tiny_skia::Stroke::default()
    };
    pixmap.stroke_path(&path, &ink, &pen, tiny_skia::Transform::identity(), None);
    let bytes = pixmap
        .encode_png()
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    if bytes.len() as u64 > MAX_SIGNATURE_BYTES {
        return Err(PhotoError::TooLarge(bytes.len()));
    }
    Ok(EncodedImage {
        hash: ContentHash::of(&bytes),
        bytes,
        width: WIDTH,
        height: HEIGHT,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strokes_become_a_small_png_and_an_empty_pad_is_refused() {
        let scribble: Stroke = (0..120)
            .map(|i| (20.0 + i as f32 * 4.5, 100.0 + 40.0 * (i as f32 / 6.0).sin()))
            .collect();
        let image = render(&[scribble, vec![(500.0, 40.0), (900.0, -50.0)]]).unwrap();
        assert!(image.bytes.len() < 32 * 1024, "{} bytes", image.bytes.len());
        let decoded = image::load_from_memory(&image.bytes).unwrap().to_luma8();
        assert_eq!(decoded.dimensions(), (WIDTH, HEIGHT));
        let inked = decoded.pixels().filter(|p| p.0[0] < 128).count();
        assert!(inked > 500, "{inked} dark pixels");
        assert_eq!(image.hash, ContentHash::of(&image.bytes));
        assert!(render(&[]).is_err());
        assert!(
            render(&[vec![(10.0, 10.0)]]).is_err(),
            "a tap is not a signature"
        );
        assert!(render(&[vec![(f32::NAN, 1.0), (2.0, 2.0)]]).is_err());
    }
}
