//! Splits automerge data (a saved document, changes, or a mix, concatenated) into its chunks,
//! so that each change can be stored as the bytes it arrived as, and so that bad data is refused
//! whole instead of being half-loaded; and bounds what a device's change may become once
//! inflated ([`check_changes`]), before automerge inflates it without a bound.
//!
//! A chunk is: 4 magic bytes, a 4-byte checksum, a type byte, the body length as unsigned
//! LEB128, then the body (see the automerge binary format). A compressed change's body is the
//! plain change's body, DEFLATEd.

use std::io::Read;

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const TYPE_CHANGE: u8 = 1;
const TYPE_COMPRESSED_CHANGE: u8 = 2;

/// Most bytes one change from a device may take once inflated (automerge compresses changes
/// over 256 bytes): a frame of 16 MiB could otherwise inflate to gigabytes while automerge
/// parses it. The largest honest change (a job with 500 material lines of 500 characters, a
/// note of 20,000 characters) is far below it.
pub const MAX_CHANGE_BYTES: usize = 4 << 20;

/// One chunk of automerge data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    /// Whether it is a single change (plain or compressed); otherwise a document or bundle.
    pub is_change: bool,
    /// The whole chunk, header included.
    pub bytes: &'a [u8],
}

/// Splits `data` into chunks; an error says what is wrong with the framing.
pub fn split(data: &[u8]) -> Result<Vec<Chunk<'_>>, String> {
    let mut chunks = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let at = data.len() - rest.len();
        if rest.len() < 9 || rest[..4] != MAGIC {
            return Err(format!("no automerge chunk at byte {at}"));
        }
        let kind = rest[8];
        let (len, len_bytes) =
            leb128(&rest[9..]).ok_or_else(|| format!("bad chunk length at byte {at}"))?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| (9 + len_bytes).checked_add(len))
            .filter(|&end| end <= rest.len())
            .ok_or_else(|| format!("chunk at byte {at} is cut short"))?;
        let (chunk, tail) = rest.split_at(end);
        let is_change = kind == TYPE_CHANGE || kind == TYPE_COMPRESSED_CHANGE;
        chunks.push(Chunk {
            is_change,
            bytes: chunk,
        });
        rest = tail;
    }
    Ok(chunks)
}

/// Checks that `data` holds only single changes (plain or compressed, no saved documents or
/// bundles, whose compressed columns automerge would also inflate without a bound), each at
/// most [`MAX_CHANGE_BYTES`] once inflated. The error says which chunk is wrong and why.
pub fn check_changes(data: &[u8]) -> Result<(), String> {
    for (n, chunk) in split(data)?.iter().enumerate() {
        let at = || {
            if n == 0 {
                String::new()
            } else {
                format!(" (chunk {})", n + 1)
            }
        };
        if !chunk.is_change {
            return Err(format!(
                "only single changes are accepted, not a saved document{}",
                at()
            ));
        }
        let size = match chunk.bytes[8] {
            TYPE_COMPRESSED_CHANGE => inflated_len(body(chunk.bytes), MAX_CHANGE_BYTES)
                .map_err(|e| format!("a compressed change that does not inflate: {e}{}", at()))?,
            _ => chunk.bytes.len(),
        };
        if size > MAX_CHANGE_BYTES {
            return Err(format!(
                "a change of more than {MAX_CHANGE_BYTES} bytes once inflated{}",
                at()
            ));
        }
    }
    Ok(())
}

/// A whole chunk's body (after its header), as [`split`] checked it.
fn body(chunk: &[u8]) -> &[u8] {
    let (_, len_bytes) = leb128(&chunk[9..]).unwrap_or((0, 0));
    &chunk[9 + len_bytes..]
}

/// How many bytes DEFLATE data inflates to, reading no further than one byte past `max`.
fn inflated_len(deflated: &[u8], max: usize) -> std::io::Result<usize> {
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let mut inflating = flate2::read::DeflateDecoder::new(deflated).take(limit);
    let copied = std::io::copy(&mut inflating, &mut std::io::sink())?;
    Ok(usize::try_from(copied).unwrap_or(usize::MAX))
}

/// Reads an unsigned LEB128 number; returns it and how many bytes it took.
fn leb128(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        let part = u64::from(byte & 0x7f);
        let shift = 7 * i as u32;
        if shift == 63 && part > 1 {
            return None;
        }
        value |= part << shift;
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use automerge::{AutoCommit, transaction::Transactable};

    use super::*;

    #[test]
    fn splits_documents_and_changes() {
        let mut doc = AutoCommit::new();
        doc.put(automerge::ROOT, "a", 1).unwrap();
        doc.commit();
        let saved = doc.save();
        doc.put(automerge::ROOT, "b", "x".repeat(1000)).unwrap();
        doc.commit();
        let change = doc.get_last_local_change().unwrap();
        let mut data = saved.clone();
        data.extend(change.raw_bytes());
        let chunks = split(&data).unwrap();
        assert_eq!(chunks.len(), 2);
        assert_eq!(
            chunks[0],
            Chunk {
                is_change: false,
                bytes: &saved
            }
        );
        assert_eq!(
            chunks[1],
            Chunk {
                is_change: true,
                bytes: change.raw_bytes()
            }
        );
        assert!(split(&data[..data.len() - 1]).is_err());
        assert!(split(b"not automerge").is_err());
        assert_eq!(split(&[]).unwrap(), vec![]);
    }

    #[test]
    fn a_change_that_inflates_past_the_bound_is_refused_before_automerge_inflates_it() {
        // An honest compressed change passes.
        let mut doc = AutoCommit::new();
        doc.put(automerge::ROOT, "note", "tile ".repeat(2000))
            .unwrap();
        doc.commit();
        let mut change = doc.get_last_local_change().unwrap().clone();
        let compressed = change.bytes().into_owned();
        assert_eq!(
            compressed[8], TYPE_COMPRESSED_CHANGE,
            "automerge compressed it"
        );
        check_changes(&compressed).unwrap();
        check_changes(change.raw_bytes()).unwrap();

        // A bomb: a compressed chunk whose body inflates to 64 MiB of zeros.
        let mut deflate =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::copy(&mut std::io::repeat(0).take(64 << 20), &mut deflate).unwrap();
        let body = deflate.finish().unwrap();
        assert!(body.len() < 100_000, "{} bytes", body.len());
        let mut bomb = MAGIC.to_vec();
        bomb.extend([0, 0, 0, 0, TYPE_COMPRESSED_CHANGE]);
        let mut len = body.len();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            bomb.push(if len == 0 { byte } else { byte | 0x80 });
            if len == 0 {
                break;
            }
        }
        bomb.extend(&body);
        let error = check_changes(&bomb).unwrap_err();
        assert!(
            error.contains("more than 4194304 bytes once inflated"),
            "{error}"
        );

        // Not DEFLATE at all.
        let mut garbage = bomb[..bomb.len() - body.len()].to_vec();
        garbage.truncate(9);
        garbage.extend([4, 0xff, 0xff, 0xff, 0xff]);
        assert!(
            check_changes(&garbage)
                .unwrap_err()
                .contains("does not inflate")
        );

        // A saved document is not a change.
        let error = check_changes(&doc.save()).unwrap_err();
        assert!(error.contains("not a saved document"), "{error}");
        // Two changes, the second bad: named.
        let mut two = compressed.clone();
        two.extend(&bomb);
        assert!(check_changes(&two).unwrap_err().contains("(chunk 2)"));
    }

    #[test]
    fn leb128_reads_multi_byte_numbers() {
        assert_eq!(leb128(&[0xe5, 0x8e, 0x26]), Some((624_485, 3)));
        assert_eq!(leb128(&[0x80]), None);
        assert_eq!(leb128(&[0xff; 11]), None);
    }
}
