//! The photo pipeline: a picture from the camera or a file becomes a JPEG of at most
//! [`MAX_SIDE`] pixels on its longer side, turned the way the camera was held (EXIF
//! orientation applied), plus a thumbnail of at most [`THUMB_SIDE`] pixels, each named by the
//! BLAKE3 hash of its bytes. The bytes are blobs; only the hashes and sizes go into the photo
//! record.

use std::io::Cursor;

use fieldsync_protocol::ContentHash;
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

/// Longest side of a stored photo, in pixels.
pub const MAX_SIDE: u32 = 2048;
/// Longest side of a thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 320;
/// Largest picture file accepted (a phone camera's JPEG is well below this).
pub const MAX_INPUT_BYTES: usize = 64 * 1024 * 1024;
/// JPEG quality of the stored photo and thumbnail.
const QUALITY: u8 = 85;
/// Most memory the decoder may use (a 100-megapixel picture in RGBA fits).
const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;

/// Why a picture cannot become a photo.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// The file is larger than [`MAX_INPUT_BYTES`].
    #[error("the picture is {0} bytes; pictures of up to {MAX_INPUT_BYTES} bytes are accepted")]
    TooLarge(usize),
    /// The bytes are not a JPEG or PNG picture this app can read.
    #[error("not a picture this app can read (JPEG or PNG): {0}")]
    Unreadable(String),
    /// Encoding the JPEG failed.
    #[error("cannot encode the photo as JPEG: {0}")]
    Encode(String),
}

/// One encoded image and its content hash.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodedImage {
    /// The JPEG bytes.
    pub bytes: Vec<u8>,
    /// BLAKE3 hash of the bytes.
    pub hash: ContentHash,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl std::fmt::Debug for EncodedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EncodedImage({}x{}, {} bytes, {})",
            self.width,
            self.height,
            self.bytes.len(),
            self.hash
        )
    }
}

/// A picture made ready to store: the photo and its thumbnail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessedPhoto {
    /// The photo, at most [`MAX_SIDE`] pixels on its longer side.
    pub full: EncodedImage,
    /// The thumbnail, at most [`THUMB_SIDE`] pixels on its longer side.
    pub thumb: EncodedImage,
}

/// Decodes a JPEG or PNG picture, applies its EXIF orientation, downscales it to at most
/// [`MAX_SIDE`] pixels and makes a [`THUMB_SIDE`] thumbnail, both encoded as JPEG.
pub fn process(picture: &[u8]) -> Result<ProcessedPhoto, PhotoError> {
    if picture.len() > MAX_INPUT_BYTES {
        return Err(PhotoError::TooLarge(picture.len()));
    }
    let unreadable = |e: &dyn std::fmt::Display| PhotoError::Unreadable(e.to_string());
    let mut reader = ImageReader::new(Cursor::new(picture))
        .with_guessed_format()
        .map_err(|e| unreadable(&e))?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| unreadable(&e))?;
    // A damaged EXIF block should not lose the photo: it is then shown as stored.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| unreadable(&e))?;
    image.apply_orientation(orientation);
    let full = if image.width().max(image.height()) > MAX_SIDE {
        image.resize(MAX_SIDE, MAX_SIDE, FilterType::Lanczos3)
    } else {
        image
    };
    let thumb = if full.width().max(full.height()) > THUMB_SIDE {
        full.thumbnail(THUMB_SIDE, THUMB_SIDE)
    } else {
        full.clone()
    };
    Ok(ProcessedPhoto {
        full: encode(&full)?,
        thumb: encode(&thumb)?,
    })
}

fn encode(image: &DynamicImage) -> Result<EncodedImage, PhotoError> {
    // JPEG has no alpha channel: flatten to RGB.
    let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
    let mut bytes = Vec::new();
    rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, QUALITY))
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    Ok(EncodedImage {
        hash: ContentHash::of(&bytes),
        width: rgb.width(),
        height: rgb.height(),
        bytes,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use image::{ImageEncoder, Rgb, RgbImage};

    use super::*;

    /// A minimal little-endian EXIF (TIFF) block holding only an orientation tag.
    fn exif_orientation(value: u16) -> Vec<u8> {
        let mut exif = b"II*\0".to_vec();
        exif.extend(8u32.to_le_bytes()); // first IFD right after the header
        exif.extend(1u16.to_le_bytes()); // one entry
        exif.extend(0x0112u16.to_le_bytes()); // Orientation
        exif.extend(3u16.to_le_bytes()); // SHORT
        exif.extend(1u32.to_le_bytes()); // one value
        exif.extend(value.to_le_bytes());
        exif.extend([0, 0]);
        exif.extend(0u32.to_le_bytes()); // no next IFD
        exif
    }

    /// A `width` x `height` JPEG, red on its left half and blue on its right, with an EXIF
    /// orientation tag when `orientation` is given.
    pub(crate) fn jpeg(width: u32, height: u32, orientation: Option<u16>) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, _| {
            if x < width / 2 {
                Rgb([255, 0, 0])
            } else {
                Rgb([0, 0, 255])
            }
        });
        let mut out = Vec::new();
        let mut encoder = JpegEncoder::new_with_quality(&mut out, 90);
        if let Some(value) = orientation {
            encoder.set_exif_metadata(exif_orientation(value)).unwrap();
        }
        encoder
            .write_image(
                image.as_raw(),
                width,
                height,
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
        out
    }

    fn decode(bytes: &[u8]) -> DynamicImage {
        image::load_from_memory_with_format(bytes, image::ImageFormat::Jpeg).unwrap()
    }

    #[test]
    fn the_exif_orientation_is_applied() {
        // Held upright, the camera stored a landscape picture and "rotate 90° clockwise".
        let processed = process(&jpeg(400, 200, Some(6))).unwrap();
        assert_eq!((processed.full.width, processed.full.height), (200, 400));
        let full = decode(&processed.full.bytes).to_rgb8();
        assert_eq!((full.width(), full.height()), (200, 400));
        // Rotated clockwise, the left (red) half is now the top.
        let top = full.get_pixel(100, 50);
        let bottom = full.get_pixel(100, 350);
        assert!(top[0] > 200 && top[2] < 60, "top is red: {top:?}");
        assert!(
            bottom[2] > 200 && bottom[0] < 60,
            "bottom is blue: {bottom:?}"
        );

        let upright = process(&jpeg(400, 200, None)).unwrap();
        assert_eq!((upright.full.width, upright.full.height), (400, 200));
    }

    #[test]
    fn large_pictures_are_downscaled_and_thumbnailed() {
        let processed = process(&jpeg(3000, 1500, None)).unwrap();
        assert_eq!((processed.full.width, processed.full.height), (2048, 1024));
        let thumb = decode(&processed.thumb.bytes);
        assert_eq!((thumb.width(), thumb.height()), (320, 160));
        assert_eq!(processed.thumb.width, 320);
        assert_eq!(processed.full.hash, ContentHash::of(&processed.full.bytes));
        assert_eq!(
            processed.thumb.hash,
            ContentHash::of(&processed.thumb.bytes)
        );
        assert_ne!(processed.full.hash, processed.thumb.hash);

        // Small pictures are not enlarged.
        let small = process(&jpeg(100, 60, None)).unwrap();
        assert_eq!((small.full.width, small.full.height), (100, 60));
        assert_eq!((small.thumb.width, small.thumb.height), (100, 60));
    }

    #[test]
    fn pngs_are_accepted_and_garbage_is_refused() {
        let image = DynamicImage::ImageRgba8(image::RgbaImage::new(500, 400));
        let mut png = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let processed = process(&png).unwrap();
        assert_eq!((processed.thumb.width, processed.thumb.height), (320, 256));

        let err = process(b"this is not a picture").unwrap_err();
        assert!(matches!(err, PhotoError::Unreadable(_)), "{err:?}");
        let truncated = &jpeg(64, 64, None)[..100];
        assert!(matches!(
            process(truncated).unwrap_err(),
            PhotoError::Unreadable(_)
        ));
    }
}
