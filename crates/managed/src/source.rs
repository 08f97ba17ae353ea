//! Where a managed configuration came from, for "locked by …" and for error messages.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The Windows key the policy values live under (HKLM, 64-bit view).
pub const REGISTRY_KEY: &str = r"HKLM\Software\Policies\Certgate";

/// The app's bundle identifier (tauri.conf.json `identifier`): the macOS preference domain.
pub const BUNDLE_ID: &str = "io.certgate.desktop";

/// The Linux file, relative to the filesystem root.
pub const LINUX_PATH: &str = "etc/certgate/managed.toml";

/// The macOS managed preferences file of a device-scoped profile, relative to the root.
pub fn macos_path() -> PathBuf {
    Path::new("Library/Managed Preferences").join(format!("{BUNDLE_ID}.plist"))
}

/// The file a user-scoped profile for `user` writes, relative to the root.
pub fn macos_user_path(user: &str) -> PathBuf {
    Path::new("Library/Managed Preferences")
        .join(user)
        .join(format!("{BUNDLE_ID}.plist"))
}

/// One place a managed configuration is read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ManagedSource {
    /// A TOML file (`/etc/certgate/managed.toml` on Linux).
    Toml { path: PathBuf },
    /// A property list (macOS managed preferences), XML or binary.
    Plist { path: PathBuf },
    /// The Windows policy registry key.
    Registry { key: String },
    /// A `.reg` export of that key (what `certgate managed check` reads on any OS).
    RegExport { path: PathBuf },
}

impl ManagedSource {
    /// Where a problem is, as people read it: the file with `:line:column`, or the registry
    /// value's full path.
    pub(crate) fn place(&self, at: &At) -> String {
        match (self, at) {
            (Self::Registry { key }, At::Value(name)) => format!(r"{key}\{name}"),
            (_, At::LineCol(l, c)) => format!("{self}:{l}:{c}"),
            (Self::RegExport { .. }, At::Value(name)) => format!("{self} (value {name:?})"),
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for ManagedSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Toml { path } | Self::Plist { path } | Self::RegExport { path } => {
                write!(f, "{}", path.display())
            }
            Self::Registry { key } => f.write_str(key),
        }
    }
}

/// A position inside a source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum At {
    #[default]
    Whole,
    LineCol(usize, usize),
    /// A registry value name (line numbers of a `.reg` export go in `LineCol`).
    Value(String),
}

impl At {
    pub(crate) fn line_col(&self) -> (Option<usize>, Option<usize>) {
        match self {
            Self::LineCol(l, c) => (Some(*l), Some(*c)),
            _ => (None, None),
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 10), (2, 4), "columns count characters");
        assert_eq!(line_col(text, 999), (3, 1), "past the end clamps");
    }

    #[test]
    fn places_name_the_file_position_or_registry_value() {
        let toml = ManagedSource::Toml {
            path: "/etc/certgate/managed.toml".into(),
        };
        assert_eq!(
            toml.place(&At::LineCol(3, 14)),
            "/etc/certgate/managed.toml:3:14"
        );
        let reg = ManagedSource::Registry {
            key: REGISTRY_KEY.into(),
        };
        assert_eq!(
            reg.place(&At::Value("ProxyPort".into())),
            r"HKLM\Software\Policies\Certgate\ProxyPort"
        );
        assert_eq!(
            macos_path(),
            Path::new("Library/Managed Preferences/io.certgate.desktop.plist")
        );
    }
}
