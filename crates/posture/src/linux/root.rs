//! Where the Linux probes read from. Every root is injectable so tests and `--sysroot`
//! diagnose fake or captured trees.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The filesystem roots the Linux probes read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysRoot {
    /// `/proc`
    pub proc: PathBuf,
    /// `/sys`
    pub sys: PathBuf,
    /// `/etc`
    pub etc: PathBuf,
    /// `/dev`
    pub dev: PathBuf,
    /// `/var` (package manager logs).
    pub var: PathBuf,
    /// The desktop user's home (screen lock settings); `None` when there is none.
    pub home: Option<PathBuf>,
}

impl SysRoot {
    /// The running host; `home` from `$HOME`.
    pub fn host() -> Self {
        Self {
            proc: "/proc".into(),
            sys: "/sys".into(),
            etc: "/etc".into(),
            dev: "/dev".into(),
            var: "/var".into(),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }

    /// A captured or fake tree: `DIR/proc`, `DIR/sys`, `DIR/etc`, `DIR/dev`, `DIR/var`, and
    /// `DIR/home` as the user's home when it exists.
    pub fn under(dir: &Path) -> Self {
        let home = dir.join("home");
        Self {
            proc: dir.join("proc"),
            sys: dir.join("sys"),
            etc: dir.join("etc"),
            dev: dir.join("dev"),
            var: dir.join("var"),
            home: home.is_dir().then_some(home),
        }
    }
}

/// Read-only filesystem access, so tests can inject failures (root ignores file modes, so a
/// permission-denied fixture cannot be made with chmod when tests run as root).
pub trait Fs: Send + Sync + std::fmt::Debug {
    /// Whole file as text.
    fn read_to_string(&self, path: &Path) -> io::Result<String>;
    /// At most `max` bytes from the start.
    fn read_head(&self, path: &Path, max: usize) -> io::Result<Vec<u8>>;
    /// At most `max` bytes from the end, as text.
    fn read_tail(&self, path: &Path, max: u64) -> io::Result<String>;
    /// Entry names of a directory, sorted.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Resolves every symlink.
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
    /// Target of one symlink.
    fn read_link(&self, path: &Path) -> io::Result<PathBuf>;
    /// Modification time.
    fn modified(&self, path: &Path) -> io::Result<SystemTime>;
    /// Whether the path exists (following symlinks).
    fn exists(&self, path: &Path) -> bool;
}

/// The real filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct RealFs;

impl Fs for RealFs {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn read_head(&self, path: &Path, max: usize) -> io::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(max.min(1 << 16));
        File::open(path)?.take(max as u64).read_to_end(&mut buf)?;
        Ok(buf)
    }

    fn read_tail(&self, path: &Path, max: u64) -> io::Result<String> {
        let mut f = File::open(path)?;
        let len = f.metadata()?.len();
        if len > max {
            f.seek(SeekFrom::Start(len - max))?;
        }
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = std::fs::read_dir(path)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect::<Vec<_>>();
        names.sort();
        Ok(names)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::read_link(path)
    }

    fn modified(&self, path: &Path) -> io::Result<SystemTime> {
        std::fs::metadata(path)?.modified()
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}

/// Wraps another [`Fs`] and answers "permission denied" for chosen paths (tests).
#[derive(Debug)]
pub struct DenyFs<F> {
    pub inner: F,
    /// Any path equal to or under one of these is denied.
    pub denied: Vec<PathBuf>,
}

impl<F: Fs> DenyFs<F> {
    fn check(&self, path: &Path) -> io::Result<()> {
        if self.denied.iter().any(|d| path.starts_with(d)) {
            Err(io::Error::from(io::ErrorKind::PermissionDenied))
        } else {
            Ok(())
        }
    }
}

impl<F: Fs> Fs for DenyFs<F> {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        self.check(path)?;
        self.inner.read_to_string(path)
    }
    fn read_head(&self, path: &Path, max: usize) -> io::Result<Vec<u8>> {
        self.check(path)?;
        self.inner.read_head(path, max)
    }
    fn read_tail(&self, path: &Path, max: u64) -> io::Result<String> {
        self.check(path)?;
        self.inner.read_tail(path, max)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.check(path)?;
        self.inner.read_dir(path)
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        self.check(path)?;
        self.inner.canonicalize(path)
    }
    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        self.check(path)?;
        self.inner.read_link(path)
    }
    fn modified(&self, path: &Path) -> io::Result<SystemTime> {
        self.check(path)?;
        self.inner.modified(path)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
}

/// Wraps another [`Fs`] and remembers every path it was asked about, so `certgate posture
/// snapshot` can capture exactly the files the Linux checks read (and nothing else).
#[derive(Debug, Default)]
pub struct RecordingFs<F> {
    pub inner: F,
    seen: std::sync::Mutex<std::collections::BTreeSet<PathBuf>>,
}

impl<F: Fs> RecordingFs<F> {
    /// Records reads made through `inner`.
    pub fn new(inner: F) -> Self {
        Self {
            inner,
            seen: std::sync::Mutex::default(),
        }
    }

    fn note(&self, path: &Path) {
        if let Ok(mut s) = self.seen.lock() {
            s.insert(path.to_path_buf());
        }
    }

    /// Every path asked about (files, directories, symlinks and what they resolved to),
    /// sorted. Some may not exist: a snapshot skips those.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.seen
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl<F: Fs> Fs for RecordingFs<F> {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        self.note(path);
        self.inner.read_to_string(path)
    }
    fn read_head(&self, path: &Path, max: usize) -> io::Result<Vec<u8>> {
        self.note(path);
        self.inner.read_head(path, max)
    }
    fn read_tail(&self, path: &Path, max: u64) -> io::Result<String> {
        self.note(path);
        self.inner.read_tail(path, max)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.note(path);
        self.inner.read_dir(path)
    }
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        self.note(path);
        let out = self.inner.canonicalize(path)?;
        self.note(&out);
        Ok(out)
    }
    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        self.note(path);
        self.inner.read_link(path)
    }
    fn modified(&self, path: &Path) -> io::Result<SystemTime> {
        self.note(path);
        self.inner.modified(path)
    }
    fn exists(&self, path: &Path) -> bool {
        self.note(path);
        self.inner.exists(path)
    }
}

/// Short words for an I/O error in evidence ("permission denied", "not found").
pub fn io_words(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::PermissionDenied => "permission denied (needs root)".to_owned(),
        io::ErrorKind::NotFound => "not found".to_owned(),
        _ => e.kind().to_string(),
    }
}
