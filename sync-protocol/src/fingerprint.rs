//! The SHA-256 fingerprint of a server's TLS certificate, as the server prints it at start
//! (`serve --tls-self-signed`) and as a tablet pins it at pairing: both sides read and write it
//! here, so what the server prints is what the tablet accepts.

/// A SHA-256 certificate fingerprint.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// Reads a fingerprint as servers and browsers print it: 64 hex digits, in either case,
    /// with or without `:` or spaces between bytes, with or without a `SHA256` prefix.
    pub fn parse(text: &str) -> Result<Fingerprint, String> {
        let trimmed = text.trim();
        let digits: String = trimmed
            .strip_prefix("SHA256")
            .or_else(|| trimmed.strip_prefix("sha256"))
            .unwrap_or(trimmed)
            .trim_start_matches([':', '='])
            .chars()
            .filter(|c| !matches!(c, ':' | ' ' | '-'))
            .collect();
        let bad = || {
            format!(
                "{trimmed:?} is not a SHA-256 fingerprint (64 hex digits, such as the server prints at start)"
            )
        };
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&digits, &mut bytes).map_err(|_| bad())?;
        Ok(Fingerprint(bytes))
    }

    /// The fingerprint whose SHA-256 digest is `digest` (the edges hash with their TLS
    /// library's provider).
    pub fn from_sha256(digest: [u8; 32]) -> Fingerprint {
        Fingerprint(digest)
    }
}

impl std::fmt::Display for Fingerprint {
    /// Upper-case hex bytes separated by `:`, as the server prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_read_as_servers_and_browsers_print_them() {
        let colons = (0..32)
            .map(|i| format!("{i:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        let parsed = Fingerprint::parse(&colons).unwrap();
        assert_eq!(parsed.to_string(), colons);
        for other in [
            colons.to_lowercase(),
            colons.replace(':', ""),
            format!("SHA256:{}", colons.replace(':', " ")),
            format!("  sha256={colons}\n"),
        ] {
            assert_eq!(Fingerprint::parse(&other), Ok(parsed), "{other:?}");
        }
        for bad in ["", "AB:CD", &colons[3..], &colons.replace('0', "g")] {
            assert!(Fingerprint::parse(bad).is_err(), "{bad:?}");
        }
    }
}
