//! Device identity helpers shared by every OS: hashing the machine id, refusing placeholder
//! serial numbers that OEMs ship unfilled.

use sha2::{Digest, Sha256};

/// SHA-256 of `salt`, a NUL, and the trimmed machine id, in hex. The raw id never leaves.
pub fn hash_machine_id(salt: &str, machine_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0u8]);
    h.update(machine_id.trim().as_bytes());
    hex::encode(h.finalize())
}

/// Placeholder strings firmware leaves in serial fields, compared case-insensitively.
const PLACEHOLDERS: &[&str] = &[
    "to be filled by o.e.m.",
    "to be filled by oem",
    "default string",
    "system serial number",
    "chassis serial number",
    "serial number",
    "not specified",
    "not applicable",
    "none",
    "n/a",
    "na",
    "oem",
    "o.e.m.",
    "invalid",
    "unknown",
    "empty",
    "123456789",
    "0123456789",
    "1234567890",
    "ffffffff",
    "xxxxxxxx",
];

/// A serial worth reporting, or why it is refused.
pub fn validate_serial(raw: &str) -> Result<String, &'static str> {
    let s = raw.trim().trim_matches('\0').trim();
    if s.is_empty() {
        return Err("empty");
    }
    let lower = s.to_ascii_lowercase();
    if PLACEHOLDERS.contains(&lower.as_str()) {
        return Err("an OEM placeholder");
    }
    // One character repeated (000000, FFFFFFFF, ........) is never a real serial.
    let mut chars = s.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return Err("one repeated character");
    }
    if s.len() < 4 {
        return Err("too short");
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_refused() {
        for p in [
            "To Be Filled By O.E.M.",
            "Default string",
            "System Serial Number",
            "0123456789",
            "000000000000",
            "  ",
            "FFFFFFFF",
            "Not Specified",
            "\0\0\0",
        ] {
            assert!(validate_serial(p).is_err(), "{p:?} must be refused");
        }
    }

    #[test]
    fn real_serials_pass() {
        assert_eq!(validate_serial("C02XK1ABJGH5\n").unwrap(), "C02XK1ABJGH5");
        assert_eq!(validate_serial("PF2ABCDE").unwrap(), "PF2ABCDE");
    }

    #[test]
    fn machine_id_hash_is_salted_and_stable() {
        let a = hash_machine_id("s1", "0123456789abcdef0123456789abcdef\n");
        assert_eq!(a, hash_machine_id("s1", "0123456789abcdef0123456789abcdef"));
        assert_ne!(a, hash_machine_id("s2", "0123456789abcdef0123456789abcdef"));
        assert_eq!(a.len(), 64);
        assert!(
            !a.contains("0123456789abcdef0123"),
            "the raw id must not appear"
        );
    }
}
