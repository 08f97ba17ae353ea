//! A reader for dconf databases (GVDB files: `~/.config/dconf/user`, `/etc/dconf/db/local`),
//! so GNOME's screen lock settings are read without running `gsettings`.
//!
//! Layout (little-endian): a 24-byte header (`GVariant`, version, options, root pointer);
//! a hash table (bloom header, bucket count, bloom words, buckets, 24-byte items). Each item
//! names its parent item and its own key segment, so a full key is the parents' segments
//! joined. `v` items point at a serialised GVariant: the value bytes, a NUL, the type string.
//! `.locks` is a nested table (`H`) whose keys are the locked paths.

/// A dconf value we understand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DconfValue {
    Bool(bool),
    U32(u32),
    I32(i32),
    Str(String),
    /// Any other type, by its GVariant type string.
    Other(String),
}

#[derive(Debug, Clone)]
struct Item {
    parent: u32,
    key: String,
    kind: u8,
    start: usize,
    end: usize,
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn table(data: &[u8], start: usize, end: usize) -> Option<Vec<Item>> {
    let bloom = u32_at(data, start)?;
    let n_bloom = usize::try_from(bloom & ((1 << 27) - 1)).ok()?;
    let n_buckets = usize::try_from(u32_at(data, start.checked_add(4)?)?).ok()?;
    let items_at = start
        .checked_add(8)?
        .checked_add(n_bloom.checked_mul(4)?)?
        .checked_add(n_buckets.checked_mul(4)?)?;
    if items_at > end || end > data.len() {
        return None;
    }
    let n_items = (end - items_at) / 24;
    let mut items = Vec::with_capacity(n_items);
    for i in 0..n_items {
        let at = items_at + i * 24;
        let parent = u32_at(data, at + 4)?;
        let key_start = usize::try_from(u32_at(data, at + 8)?).ok()?;
        let key_size = usize::from(u16::from_le_bytes([
            *data.get(at + 12)?,
            *data.get(at + 13)?,
        ]));
        let kind = *data.get(at + 14)?;
        let start = usize::try_from(u32_at(data, at + 16)?).ok()?;
        let end = usize::try_from(u32_at(data, at + 20)?).ok()?;
        let key = data.get(key_start..key_start.checked_add(key_size)?)?;
        items.push(Item {
            parent,
            key: String::from_utf8_lossy(key).into_owned(),
            kind,
            start,
            end,
        });
    }
    Some(items)
}

/// Full keys: each item's segment after its parents' (bounded: a malformed parent loop
/// must not hang the check).
fn full_keys(items: &[Item]) -> Vec<String> {
    items
        .iter()
        .map(|it| {
            let mut parts = vec![it.key.as_str()];
            let mut p = it.parent;
            let mut hops = 0;
            while let Some(parent) = usize::try_from(p).ok().and_then(|i| items.get(i)) {
                parts.push(parent.key.as_str());
                p = parent.parent;
                hops += 1;
                if hops > 64 {
                    break;
                }
            }
            parts.reverse();
            parts.concat()
        })
        .collect()
}

fn value(data: &[u8], start: usize, end: usize) -> Option<DconfValue> {
    let v = data.get(start..end)?;
    let nul = v.iter().rposition(|b| *b == 0)?;
    let ty = std::str::from_utf8(v.get(nul + 1..)?).ok()?;
    let body = &v[..nul];
    Some(match ty {
        "b" => DconfValue::Bool(*body.first()? != 0),
        "u" => DconfValue::U32(u32::from_le_bytes(body.get(..4)?.try_into().ok()?)),
        "i" => DconfValue::I32(i32::from_le_bytes(body.get(..4)?.try_into().ok()?)),
        "s" => {
            let end = body.iter().position(|b| *b == 0).unwrap_or(body.len());
            DconfValue::Str(String::from_utf8_lossy(&body[..end]).into_owned())
        }
        other => DconfValue::Other(other.to_owned()),
    })
}

fn root(data: &[u8]) -> Option<(usize, usize)> {
    if data.get(..8)? != b"GVariant" {
        return None;
    }
    let start = usize::try_from(u32_at(data, 16)?).ok()?;
    let end = usize::try_from(u32_at(data, 20)?).ok()?;
    Some((start, end))
}

/// A parsed dconf database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dconf {
    /// `/org/gnome/desktop/screensaver/lock-enabled` → value.
    pub values: Vec<(String, DconfValue)>,
    /// Locked keys (system databases).
    pub locks: Vec<String>,
}

impl Dconf {
    /// The value of a full key.
    pub fn get(&self, key: &str) -> Option<&DconfValue> {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Whether a key is locked.
    pub fn is_locked(&self, key: &str) -> bool {
        self.locks.iter().any(|k| k == key)
    }
}

/// Parses a dconf GVDB file; `None` when it is not one.
pub fn parse_dconf(data: &[u8]) -> Option<Dconf> {
    let (start, end) = root(data)?;
    let items = table(data, start, end)?;
    let keys = full_keys(&items);
    let mut db = Dconf::default();
    for (it, key) in items.iter().zip(keys) {
        match it.kind {
            b'v' => {
                if let Some(v) = value(data, it.start, it.end) {
                    db.values.push((key, v));
                }
            }
            b'H' if it.key == ".locks" => {
                if let Some(locked) = table(data, it.start, it.end) {
                    db.locks = full_keys(&locked);
                }
            }
            _ => {}
        }
    }
    Some(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/linux/dconf")
            .join(name);
        std::fs::read(p).unwrap()
    }

    #[test]
    fn reads_a_user_database() {
        let db = parse_dconf(&fixture("user")).unwrap();
        assert_eq!(
            db.get("/org/gnome/desktop/screensaver/lock-enabled"),
            Some(&DconfValue::Bool(false))
        );
        assert_eq!(
            db.get("/org/gnome/desktop/screensaver/lock-delay"),
            Some(&DconfValue::U32(30))
        );
        assert_eq!(
            db.get("/org/gnome/desktop/session/idle-delay"),
            Some(&DconfValue::U32(600))
        );
        assert!(db.locks.is_empty());
    }

    #[test]
    fn reads_a_system_database_with_locks() {
        let db = parse_dconf(&fixture("local")).unwrap();
        assert_eq!(
            db.get("/org/gnome/desktop/screensaver/lock-enabled"),
            Some(&DconfValue::Bool(true))
        );
        assert_eq!(
            db.get("/org/gnome/desktop/session/idle-delay"),
            Some(&DconfValue::U32(300))
        );
        assert!(db.is_locked("/org/gnome/desktop/screensaver/lock-enabled"));
        assert!(db.is_locked("/org/gnome/desktop/session/idle-delay"));
        assert!(!db.is_locked("/org/gnome/desktop/screensaver/lock-delay"));
    }

    #[test]
    fn rejects_garbage_and_truncation() {
        assert_eq!(parse_dconf(b"not gvdb"), None);
        let data = fixture("user");
        for cut in [10, 30, 100, 200, 300] {
            // Truncated files must not panic; they may parse partially or not at all.
            let _ = parse_dconf(&data[..cut]);
        }
        let mut loopy = data.clone();
        // Point the first item's parent at itself: full keys must still terminate.
        let items_at = 0x18 + 8 + 9 * 4;
        loopy[items_at + 4..items_at + 8].copy_from_slice(&0u32.to_le_bytes());
        let _ = parse_dconf(&loopy);
    }
}
