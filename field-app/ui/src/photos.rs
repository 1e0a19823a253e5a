//! The job's photos: thumbnails from the replica's blobs, a full view, and attaching a photo
//! from a file through the core's photo pipeline.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use fieldsync_app::{AppError, PhotoForm, PhotoTarget, photo};
use fieldsync_protocol::{ContentHash, Photo, PhotoTag};
use slint::{ComponentHandle as _, Image, Rgba8Pixel, SharedPixelBuffer};

use crate::background;
use crate::controller::{Inner, model, strings};
use crate::{AppWindow, PhotoAdapter, PhotoTile, format};

/// Tags in the order of the buttons.
const TAGS: [PhotoTag; 3] = [PhotoTag::Before, PhotoTag::After, PhotoTag::Other];

thread_local! {
    /// Decoded thumbnails by content hash (a blob never changes).
    static THUMBS: RefCell<HashMap<ContentHash, Image>> = RefCell::new(HashMap::new());
    /// The photos on screen, for the full view.
    static SHOWN: RefCell<Vec<Photo>> = const { RefCell::new(Vec::new()) };
}

pub(crate) fn wire(ui: &AppWindow, inner: &Rc<Inner>) {
    let adapter = ui.global::<PhotoAdapter>();
    adapter.set_tags(strings(TAGS.iter().map(|t| format::tag(*t))));
    adapter.set_tag(0);
    let on = inner.clone();
    adapter.on_attach(move || attach(&on));
    let on = inner.clone();
    adapter.on_choose(move || choose(&on));
    let on = inner.clone();
    adapter.on_view(move |index| view(&on, index));
}

/// A job was opened: back to the grid with an empty form.
pub(crate) fn opened(inner: &Inner) {
    inner.selection.borrow_mut().photo = None;
    if let Some(ui) = inner.ui() {
        let adapter = ui.global::<PhotoAdapter>();
        adapter.set_viewing(-1);
        adapter.set_path("".into());
        adapter.set_caption("".into());
        adapter.set_message("".into());
    }
}

/// Shows `photos` (the job's, by time taken) as thumbnails.
pub(crate) fn refresh(inner: &Inner, photos: &[Photo]) -> Result<(), AppError> {
    let Some(ui) = inner.ui() else { return Ok(()) };
    let zone = inner.zone();
    let mut tiles = Vec::new();
    for photo in photos {
        let thumb = thumbnail(inner, &photo.thumb_hash)?;
        tiles.push(PhotoTile {
            has_thumb: thumb.is_some(),
            thumb: thumb.unwrap_or_default(),
            caption: photo.caption.clone().into(),
            tag: format::tag(photo.tag).into(),
            tag_key: photo.tag.as_str().into(),
            stamp: format!(
                "{} · {}",
                photo.author_name,
                format::stamp(photo.taken_at, zone)
            )
            .into(),
        });
    }
    SHOWN.with(|shown| *shown.borrow_mut() = photos.to_vec());
    let adapter = ui.global::<PhotoAdapter>();
    adapter.set_photos(model(tiles));
    let viewing = adapter.get_viewing();
    if viewing >= 0 {
        view(inner, viewing);
    }
    Ok(())
}

/// The decoded thumbnail, if its blob is on the tablet.
fn thumbnail(inner: &Inner, hash: &ContentHash) -> Result<Option<Image>, AppError> {
    if let Some(image) = THUMBS.with(|t| t.borrow().get(hash).cloned()) {
        return Ok(Some(image));
    }
    let Some(bytes) = inner.tablet().blob(hash)? else {
        return Ok(None);
    };
    let image = decode(&bytes);
    if let Some(image) = &image {
        THUMBS.with(|t| t.borrow_mut().insert(*hash, image.clone()));
    }
    Ok(image)
}

/// Decodes JPEG or PNG bytes into a Slint image (`None` if they are not an image).
pub(crate) fn decode(bytes: &[u8]) -> Option<Image> {
    let rgba = image::load_from_memory(bytes).ok()?.to_rgba8();
    let buffer = SharedPixelBuffer::<Rgba8Pixel>::clone_from_slice(
        rgba.as_raw(),
        rgba.width(),
        rgba.height(),
    );
    Some(Image::from_rgba8(buffer))
}

fn view(inner: &Inner, index: i32) {
    let Some(ui) = inner.ui() else { return };
    let adapter = ui.global::<PhotoAdapter>();
    let Some(photo) = usize::try_from(index)
        .ok()
        .and_then(|i| SHOWN.with(|s| s.borrow().get(i).cloned()))
    else {
        return;
    };
    let full = match inner.tablet().blob(&photo.full_hash) {
        Ok(bytes) => bytes.as_deref().and_then(decode),
        Err(error) => return inner.notice(error),
    };
    let (image, note) = match full {
        Some(image) => (image, String::new()),
        None => {
            // Full images come on demand: ask the server (nothing happens offline); the view
            // shows the full image once it has arrived and the page is refreshed.
            let hash = photo.full_hash;
            if let Err(error) = inner.act(|tablet| Ok(((), tablet.fetch_blob(hash)?))) {
                inner.notice(error);
            }
            match thumbnail(inner, &photo.thumb_hash) {
                Ok(Some(thumb)) => (
                    thumb,
                    " (thumbnail: the full image downloads when online)".to_string(),
                ),
                _ => (Image::default(), " (not on this tablet yet)".to_string()),
            }
        }
    };
    adapter.set_full(image);
    adapter.set_full_caption(
        format!(
            "{} · {} · {}×{}{note}",
            format::tag(photo.tag),
            photo.caption,
            photo.width,
            photo.height
        )
        .into(),
    );
    adapter.set_viewing(index);
}

/// Opens the device's file dialog (it waits for the technician: on a thread of its own) and
/// puts the file chosen in the form; a closed dialog changes nothing.
fn choose(inner: &Rc<Inner>) {
    let Some(ui) = inner.ui() else { return };
    let adapter = ui.global::<PhotoAdapter>();
    if adapter.get_busy() {
        return;
    }
    adapter.set_busy(true);
    adapter.set_message("Choose the photo in the file dialog…".into());
    let chooser = std::sync::Arc::clone(&inner.options.choose_photo);
    let inner = Rc::clone(inner);
    background::run(
        move || chooser(),
        move |chosen| {
            let Some(ui) = inner.ui() else { return };
            let adapter = ui.global::<PhotoAdapter>();
            adapter.set_busy(false);
            match chosen.unwrap_or_else(|| Err("the file dialog closed unexpectedly".into())) {
                Ok(Some(path)) => {
                    adapter.set_path(path.display().to_string().into());
                    adapter.set_message("Add a caption and a tag, then Attach.".into());
                }
                Ok(None) => adapter.set_message("".into()),
                Err(why) => {
                    tracing::warn!(%why, "no file dialog");
                    adapter.set_message(
                        format!("No file dialog on this device ({why}): type the file's path.")
                            .into(),
                    );
                }
            }
        },
    );
}

/// Attaches the photo at the form's path: read and processed (decoded, turned upright, scaled,
/// thumbnailed) on a thread of its own, the form showing that it is busy, then saved on the UI
/// thread. Tapping Attach again meanwhile does nothing.
fn attach(inner: &Rc<Inner>) {
    let (Some(ui), Some(job)) = (inner.ui(), inner.selection.borrow().job) else {
        return;
    };
    let adapter = ui.global::<PhotoAdapter>();
    if adapter.get_busy() {
        return;
    }
    let path = adapter.get_path().trim().to_string();
    if path.is_empty() {
        adapter.set_message("Enter the photo's file path.".into());
        return;
    }
    // One form per photo: saving twice (a double tap) adds it once.
    let mut form = inner
        .selection
        .borrow_mut()
        .photo
        .get_or_insert_with(|| PhotoForm::new(PhotoTarget::Job(job)))
        .clone();
    form.caption = adapter.get_caption().trim().to_string();
    form.tag = usize::try_from(adapter.get_tag())
        .ok()
        .and_then(|i| TAGS.get(i).copied())
        .unwrap_or(PhotoTag::Other);
    adapter.set_busy(true);
    adapter.set_message("Preparing the photo…".into());
    let read = path.clone();
    let inner = Rc::clone(inner);
    background::run(
        move || {
            let bytes =
                std::fs::read(&read).map_err(|error| format!("Cannot read {read}: {error}"))?;
            photo::process(&bytes).map_err(|error| error.to_string())
        },
        move |processed| {
            let Some(ui) = inner.ui() else { return };
            let adapter = ui.global::<PhotoAdapter>();
            adapter.set_busy(false);
            let processed = processed
                .unwrap_or_else(|| Err(format!("The photo {path} could not be prepared.")));
            let saved = processed.and_then(|processed| {
                let now = inner.now();
                inner
                    .act(|tablet| tablet.add_processed_photo(now, &form, &processed))
                    .map_err(|error| error.to_string())
            });
            match saved {
                Ok(photo) => {
                    tracing::info!(photo = %photo.id, width = photo.width, height = photo.height, "photo attached");
                    inner.selection.borrow_mut().photo = None;
                    adapter.set_path("".into());
                    adapter.set_caption("".into());
                    adapter.set_message(
                        format!(
                            "Photo saved ({}×{}); it uploads in the background.",
                            photo.width, photo.height
                        )
                        .into(),
                    );
                }
                Err(error) => {
                    tracing::warn!(%path, %error, "the photo was not attached");
                    adapter.set_message(error.into());
                }
            }
            inner.refresh_page();
        },
    );
}
