//! One-time enrolment codes, made for people: an admin reads one out or pastes it into an
//! email, a contractor types it. Crockford base32 in dash-separated groups of four, so a code
//! never starts with `-` (a command line would take it for a flag), has no letters that look
//! like digits, and survives case changes, spaces and the usual misreadings.

/// Random bits per code: 120, as many as the base64url codes it replaced.
const CODE_BYTES: usize = 15;
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const GROUP: usize = 4;

/// A fresh code such as `7K2M-Q9XD-0RTA-VW3B-MN5P-ZC8E`.
pub fn generate() -> crate::Result<String> {
    let mut bytes = [0u8; CODE_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| certgate_credentials::Error::Random(e.to_string()))?;
    Ok(format_groups(&encode(&bytes)))
}

/// The canonical form a code is stored and looked up by: separators and spaces dropped,
/// upper case, and the letters people confuse with digits read as those digits.
pub fn normalize(typed: &str) -> String {
    typed
        .chars()
        .filter(|&c| c != '-' && !c.is_whitespace())
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

fn format_groups(symbols: &str) -> String {
    let mut out = String::with_capacity(symbols.len() + symbols.len() / GROUP);
    for (i, c) in symbols.chars().enumerate() {
        if i > 0 && i % GROUP == 0 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_groups_of_four_from_the_alphabet() {
        for _ in 0..500 {
            let code = generate().unwrap();
            let groups: Vec<&str> = code.split('-').collect();
            assert_eq!(groups.len(), 6, "{code}");
            assert!(groups.iter().all(|g| g.len() == GROUP), "{code}");
            assert!(
                groups.concat().bytes().all(|b| ALPHABET.contains(&b)),
                "{code}"
            );
            assert_eq!(normalize(&code), groups.concat());
        }
    }

    #[test]
    fn encoding_is_crockford_base32() {
        assert_eq!(encode(&[0xff; 5]), "ZZZZZZZZ");
        assert_eq!(encode(&[0; 5]), "00000000");
        assert_eq!(encode(b"f"), "CR");
        assert_eq!(encode(b"foobar"), "CSQPYRK1E8");
    }

    #[test]
    fn what_people_type_reads_as_the_code() {
        let code = "7K2M-Q9XD-0RTA-VW3B-M15P-ZC8E";
        let canonical = normalize(code);
        for typed in [
            "7k2m-q9xd-0rta-vw3b-m15p-zc8e",
            "7K2M Q9XD ORTA VW3B MI5P ZC8E",
            " 7K2MQ9XD0RTAVW3BML5PZC8E\n",
        ] {
            assert_eq!(normalize(typed), canonical, "{typed:?}");
        }
    }
}
