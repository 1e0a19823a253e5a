//! Photos for the demo company: a before and an after picture per kind of service, drawn
//! here (a wall, the unit being serviced, its indicator light) and stored as JPEG blobs with
//! 320 px thumbnails, exactly as a tablet stores the photos it takes.

use std::collections::HashMap;
use std::io::Cursor;

use fieldsync_protocol::{ContentHash, Photo, PhotoId, PhotoTag, Timestamp, Writer};
use fieldsync_store::StoreTx;
use image::{ImageFormat, Rgb, RgbImage};

use super::anyhow_free;

/// Width and height of a demo photo.
const SIZE: (u32, u32) = (800, 600);
/// Longest side of a thumbnail.
const THUMB: u32 = 320;

/// One stored picture: its full image and thumbnail.
#[derive(Clone, Copy)]
struct Stored {
    full: (ContentHash, u64),
    thumb: (ContentHash, u64),
}

/// Draws and stores each picture once (blobs are content-addressed), then hands out photo
/// records that name them.
pub(super) struct Album {
    stored: HashMap<(usize, bool), Stored>,
}

impl Album {
    pub(super) fn new() -> Album {
        Album {
            stored: HashMap::new(),
        }
    }

    /// A before or after photo of service number `service`, taken by `by` at `at`.
    pub(super) fn photo(
        &mut self,
        tx: &StoreTx<'_>,
        service: usize,
        after: bool,
        caption: &str,
        by: &Writer,
        at: Timestamp,
    ) -> anyhow_free::Result<Photo> {
        let stored = match self.stored.get(&(service, after)) {
            Some(stored) => *stored,
            None => {
                let picture = draw(service, after);
                let thumb = image::imageops::thumbnail(&picture, THUMB, THUMB * SIZE.1 / SIZE.0);
                let stored = Stored {
                    full: store(tx, &picture)?,
                    thumb: store(tx, &thumb)?,
                };
                self.stored.insert((service, after), stored);
                stored
            }
        };
        Ok(Photo {
            id: PhotoId::new(),
            caption: caption.into(),
            tag: if after {
                PhotoTag::After
            } else {
                PhotoTag::Before
            },
            taken_at: at,
            author: by.author.user,
            author_name: by.author.name.clone(),
            width: SIZE.0,
            height: SIZE.1,
            full_hash: stored.full.0,
            full_size: stored.full.1,
            thumb_hash: stored.thumb.0,
            thumb_size: stored.thumb.1,
        })
    }
}

/// Encodes `picture` as JPEG and stores it as a blob; its hash and size.
fn store(tx: &StoreTx<'_>, picture: &RgbImage) -> anyhow_free::Result<(ContentHash, u64)> {
    let mut bytes = Cursor::new(Vec::new());
    picture.write_to(&mut bytes, ImageFormat::Jpeg)?;
    let bytes = bytes.into_inner();
    let hash = tx
        .put_blob(&bytes)?
        .map_err(|refused| refused.to_string())?;
    Ok((hash, bytes.len() as u64))
}

/// A wall, the unit on it (tinted per service) and its light: red and stained before, green
/// and clean after.
fn draw(service: usize, after: bool) -> RgbImage {
    let (w, h) = SIZE;
    let tint = [
        [176, 190, 197],
        [144, 164, 174],
        [188, 170, 164],
        [161, 136, 127],
        [197, 202, 233],
    ][service % 5];
    RgbImage::from_fn(w, h, |x, y| {
        let unit = x > w / 3 && x < 2 * w / 3 && y > h / 5 && y < 4 * h / 5;
        let light = {
            let (dx, dy) = (x as i64 - (w / 2) as i64, y as i64 - (h / 3) as i64);
            dx * dx + dy * dy < 24 * 24
        };
        let stain = !after && unit && (x / 7 + y / 11) % 9 == 0;
        if light {
            if after {
                Rgb([46, 160, 67])
            } else {
                Rgb([207, 34, 46])
            }
        } else if stain {
            Rgb([120, 84, 48])
        } else if unit {
            let shade = (y * 40 / h) as u8;
            Rgb([tint[0] - shade, tint[1] - shade, tint[2] - shade])
        } else {
            // The wall: a soft vertical gradient, the floor darker.
            let g = 200 - (y * 60 / h) as u8;
            if y > 5 * h / 6 {
                Rgb([g / 2, g / 2, g / 2 + 10])
            } else {
                Rgb([g, g - 6, g - 16])
            }
        }
    })
}
