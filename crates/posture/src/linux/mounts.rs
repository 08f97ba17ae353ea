//! Pure parsers for `/proc/self/mountinfo` and `/proc/swaps`.

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    pub major: u32,
    pub minor: u32,
    /// Mount point, octal escapes decoded.
    pub mount_point: String,
    pub fstype: String,
    /// Mount source (`/dev/mapper/root`, a ZFS dataset, `overlay`).
    pub source: String,
}

impl MountEntry {
    /// `MAJ:MIN`, the key of `/sys/dev/block`.
    pub fn dev_key(&self) -> String {
        format!("{}:{}", self.major, self.minor)
    }
}

/// Parses mountinfo; malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_mountinfo_line).collect()
}

fn parse_mountinfo_line(line: &str) -> Option<MountEntry> {
    let fields: Vec<&str> = line.split(' ').collect();
    // id parent maj:min root mountpoint options [optional...] - fstype source superopts
    let sep = fields.iter().skip(6).position(|f| *f == "-")? + 6;
    let (major, minor) = fields.get(2)?.split_once(':')?;
    Some(MountEntry {
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
        mount_point: unescape(fields.get(4)?),
        fstype: (*fields.get(sep + 1)?).to_owned(),
        source: unescape(fields.get(sep + 2)?),
    })
}

/// The mount serving `mount_point` exactly: the last one listed wins (it is on top).
pub fn mount_at<'a>(mounts: &'a [MountEntry], mount_point: &str) -> Option<&'a MountEntry> {
    mounts.iter().rev().find(|m| m.mount_point == mount_point)
}

/// The mount that holds `path`: longest mount point that is a path prefix, last one wins.
pub fn mount_containing<'a>(mounts: &'a [MountEntry], path: &str) -> Option<&'a MountEntry> {
    let mut best: Option<&MountEntry> = None;
    for m in mounts {
        let mp = m.mount_point.as_str();
        let inside = mp == "/"
            || path == mp
            || (path.starts_with(mp) && path.as_bytes().get(mp.len()) == Some(&b'/'));
        if inside && best.is_none_or(|b| mp.len() >= b.mount_point.len()) {
            best = Some(m);
        }
    }
    best
}

/// Decodes the kernel's `\040`-style octal escapes.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One active swap area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwapEntry {
    pub path: String,
    /// `partition` or `file`.
    pub kind: String,
}

/// Parses `/proc/swaps` (header line first).
pub fn parse_swaps(text: &str) -> Vec<SwapEntry> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let path = unescape(it.next()?);
            let kind = it.next()?.to_owned();
            let path = path.strip_suffix(" (deleted)").unwrap_or(&path).to_owned();
            Some(SwapEntry { path, kind })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue
40 27 0:45 / /home rw,relatime shared:1 - btrfs /dev/mapper/luks-1 rw,subvol=/@home
";

    #[test]
    fn parses_fields_and_optional_tags() {
        let m = parse_mountinfo(SAMPLE);
        assert_eq!(m.len(), 4);
        assert_eq!(m[1].dev_key(), "254:0");
        assert_eq!(m[1].mount_point, "/");
        assert_eq!(m[2].mount_point, "/mnt/with space", "octal escapes decode");
        assert_eq!(
            m[2].fstype, "ext3",
            "optional fields before '-' are skipped"
        );
        assert_eq!(m[3].source, "/dev/mapper/luks-1");
    }

    #[test]
    fn last_mount_on_a_point_wins() {
        let text = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 253:0 / / rw - ext4 /dev/dm-0 rw\n";
        let m = parse_mountinfo(text);
        assert_eq!(mount_at(&m, "/").unwrap().dev_key(), "253:0");
    }

    #[test]
    fn containing_mount_is_longest_prefix() {
        let m = parse_mountinfo(SAMPLE);
        assert_eq!(
            mount_containing(&m, "/home/u/.swap").unwrap().mount_point,
            "/home"
        );
        assert_eq!(mount_containing(&m, "/homework").unwrap().mount_point, "/");
        assert_eq!(mount_containing(&m, "/swapfile").unwrap().mount_point, "/");
    }

    #[test]
    fn malformed_lines_are_skipped() {
        assert!(parse_mountinfo("garbage\n1 2 x:y / / rw - ext4 a b\n").is_empty());
    }

    #[test]
    fn parses_swaps() {
        let text = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/dm-1                               partition\t8388604\t\t0\t\t-2\n/swap\\040file file 100 0 -3\n";
        let s = parse_swaps(text);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].path, "/dev/dm-1");
        assert_eq!(s[0].kind, "partition");
        assert_eq!(s[1].path, "/swap file");
    }
}
