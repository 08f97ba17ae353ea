//! Pure parsers for what only root (or the `disk` group) can read: the LUKS header on the
//! device under a dm-crypt mapping. Used to tell `cipher_null` apart from real encryption.

/// LUKS magic: `LUKS\xba\xbe`.
const MAGIC: &[u8; 6] = b"LUKS\xba\xbe";

/// The data cipher named by a LUKS1 or LUKS2 header (`aes-xts-plain64`, `cipher_null-ecb`).
/// `None` when the bytes are not a LUKS header or the LUKS2 JSON area is cut short.
pub fn luks_cipher(head: &[u8]) -> Option<String> {
    if head.get(..6)? != MAGIC {
        return None;
    }
    let version = u16::from_be_bytes([*head.get(6)?, *head.get(7)?]);
    match version {
        1 => {
            // LUKS1: cipher_name[32] at 8, cipher_mode[32] at 40, NUL padded.
            let name = c_str(head.get(8..40)?);
            let mode = c_str(head.get(40..72)?);
            Some(if mode.is_empty() {
                name
            } else {
                format!("{name}-{mode}")
            })
        }
        2 => {
            // LUKS2: a 4096-byte binary header, then the JSON metadata, NUL padded.
            let json = head.get(4096..)?;
            let end = json.iter().position(|b| *b == 0).unwrap_or(json.len());
            let v: serde_json::Value = serde_json::from_slice(json.get(..end)?).ok()?;
            let segments = v.get("segments")?.as_object()?;
            let mut ciphers: Vec<&str> = segments
                .values()
                .filter_map(|s| s.get("encryption")?.as_str())
                .collect();
            ciphers.sort_unstable();
            ciphers.dedup();
            // Several segments with different ciphers happen mid re-encryption; a null one
            // anywhere means some data is stored in clear.
            match ciphers.iter().find(|c| is_null_cipher(c)) {
                Some(c) => Some((*c).to_owned()),
                None => ciphers.first().map(|c| (*c).to_owned()),
            }
        }
        _ => None,
    }
}

/// True for the kernel's no-op cipher.
pub fn is_null_cipher(cipher: &str) -> bool {
    cipher.starts_with("cipher_null")
}

fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Builds headers for tests and fixtures.
pub mod build {
    /// A LUKS1 header naming `cipher` and `mode`.
    pub fn luks1(cipher: &str, mode: &str) -> Vec<u8> {
        let mut h = vec![0u8; 592];
        h[..6].copy_from_slice(super::MAGIC);
        h[6..8].copy_from_slice(&1u16.to_be_bytes());
        // Fields are 32 bytes, NUL-terminated: longer names are cut.
        let c = &cipher.as_bytes()[..cipher.len().min(31)];
        let m = &mode.as_bytes()[..mode.len().min(31)];
        h[8..8 + c.len()].copy_from_slice(c);
        h[40..40 + m.len()].copy_from_slice(m);
        h
    }

    /// A LUKS2 header with one crypt segment using `encryption`.
    pub fn luks2(encryption: &str) -> Vec<u8> {
        let mut h = vec![0u8; 16384];
        h[..6].copy_from_slice(super::MAGIC);
        h[6..8].copy_from_slice(&2u16.to_be_bytes());
        h[8..16].copy_from_slice(&16384u64.to_be_bytes());
        let json = format!(
            r#"{{"keyslots":{{}},"tokens":{{}},"segments":{{"0":{{"type":"crypt","offset":"16777216","size":"dynamic","iv_tweak":"0","encryption":"{encryption}","sector_size":512}}}},"digests":{{}},"config":{{"json_size":"12288","keyslots_size":"16744448"}}}}"#
        );
        // The JSON area is 12 KiB; a longer cipher name than any real one is cut.
        let j = &json.as_bytes()[..json.len().min(12 * 1024 - 1)];
        h[4096..4096 + j.len()].copy_from_slice(j);
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_luks1_cipher() {
        assert_eq!(
            luks_cipher(&build::luks1("aes", "xts-plain64")).as_deref(),
            Some("aes-xts-plain64")
        );
        assert_eq!(
            luks_cipher(&build::luks1("cipher_null", "ecb")).as_deref(),
            Some("cipher_null-ecb")
        );
    }

    #[test]
    fn reads_luks2_cipher() {
        assert_eq!(
            luks_cipher(&build::luks2("aes-xts-plain64")).as_deref(),
            Some("aes-xts-plain64")
        );
        let null = luks_cipher(&build::luks2("cipher_null-ecb")).unwrap();
        assert!(is_null_cipher(&null));
    }

    #[test]
    fn rejects_non_luks_and_truncated() {
        assert_eq!(luks_cipher(b"\0\0\0\0\0\0\0\0"), None);
        assert_eq!(luks_cipher(&[]), None);
        let h = build::luks2("aes-xts-plain64");
        assert_eq!(luks_cipher(&h[..4200]), None, "cut JSON is not guessed");
    }
}
