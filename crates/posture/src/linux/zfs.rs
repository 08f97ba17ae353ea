//! Pure parsers for `zfs get` and `zpool list` output.

/// Native encryption of one dataset, from `zfs get -H -o value encryption,keystatus DATASET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZfsEncryption {
    /// `off` or the cipher (`aes-256-gcm`).
    pub encryption: String,
    /// `available`, `unavailable`, or `-` when not encrypted.
    pub keystatus: String,
}

impl ZfsEncryption {
    /// Encrypted with its key loaded.
    pub fn is_encrypted(&self) -> bool {
        self.encryption != "off" && self.keystatus == "available"
    }
}

/// Parses the two value lines (`aes-256-gcm`, `available`).
pub fn parse_zfs_get(text: &str) -> Option<ZfsEncryption> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let encryption = lines.next()?.to_owned();
    let keystatus = lines.next()?.to_owned();
    if encryption.contains(char::is_whitespace) || keystatus.contains(char::is_whitespace) {
        return None;
    }
    Some(ZfsEncryption {
        encryption,
        keystatus,
    })
}

/// Device paths of a pool's leaf vdevs, from `zpool list -v -H -P POOL`.
pub fn parse_zpool_vdevs(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split('\t').map(str::trim).find(|f| !f.is_empty()))
        .filter(|name| name.starts_with("/dev/"))
        .map(|p| p.to_owned())
        .collect()
}

/// The pool of a dataset (`rpool/ROOT/ubuntu` → `rpool`).
pub fn pool_of(dataset: &str) -> &str {
    dataset.split('/').next().unwrap_or(dataset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zfs_get_encrypted() {
        let e = parse_zfs_get("aes-256-gcm\navailable\n").unwrap();
        assert!(e.is_encrypted());
    }

    #[test]
    fn zfs_get_plain() {
        let e = parse_zfs_get("off\n-\n").unwrap();
        assert!(!e.is_encrypted());
    }

    #[test]
    fn zfs_get_garbage() {
        assert_eq!(
            parse_zfs_get("cannot open 'x': dataset does not exist\n"),
            None
        );
        assert_eq!(parse_zfs_get(""), None);
    }

    #[test]
    fn zpool_vdevs_skip_groups() {
        let text = "tank\t1.81T\t1.2T\t620G\t-\t-\t12%\t66%\t1.00x\tONLINE\t-\n\tmirror-0\t1.81T\t1.2T\t620G\t-\t-\t12%\t66.0%\t-\tONLINE\n\t/dev/mapper/luks-a\t-\t-\t-\t-\t-\t-\t-\t-\tONLINE\n\t/dev/sdb1\t-\t-\t-\t-\t-\t-\t-\t-\tONLINE\n";
        assert_eq!(
            parse_zpool_vdevs(text),
            vec!["/dev/mapper/luks-a", "/dev/sdb1"]
        );
        assert_eq!(pool_of("rpool/ROOT/ubuntu"), "rpool");
    }
}
