//! Splits automerge data (a saved document, changes, or a mix, concatenated) into its chunks,
//! so that each change can be stored as the bytes it arrived as, and so that bad data is refused
//! whole instead of being half-loaded.
//!
//! A chunk is: 4 magic bytes, a 4-byte checksum, a type byte, the body length as unsigned
//! LEB128, then the body (see the automerge binary format).

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const TYPE_CHANGE: u8 = 1;
const TYPE_COMPRESSED_CHANGE: u8 = 2;

/// One chunk of automerge data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk<'a> {
    /// Whether it is a single change (plain or compressed); otherwise a document or bundle.
    pub is_change: bool,
    /// The whole chunk, header included.
    pub bytes: &'a [u8],
}

/// Splits `data` into chunks; an error says what is wrong with the framing.
pub(crate) fn split(data: &[u8]) -> Result<Vec<Chunk<'_>>, String> {
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
    fn leb128_reads_multi_byte_numbers() {
        assert_eq!(leb128(&[0xe5, 0x8e, 0x26]), Some((624_485, 3)));
        assert_eq!(leb128(&[0x80]), None);
        assert_eq!(leb128(&[0xff; 11]), None);
    }
}
