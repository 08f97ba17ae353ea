//! Where Certgate keeps its data, per OS. `CERTGATE_HOME` overrides it so tests and support
//! sessions never touch a user's real state.

use std::env;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Environment variable that overrides the data directory.
pub const HOME_OVERRIDE: &str = "CERTGATE_HOME";

/// The data directory: `$CERTGATE_HOME` when set, else the platform's per-user data folder
/// (`$XDG_DATA_HOME/certgate` or `~/.local/share/certgate` on Linux,
/// `~/Library/Application Support/Certgate` on macOS, `%APPDATA%\Certgate` on Windows).
pub fn data_dir() -> Result<PathBuf> {
    resolve(&|name| env::var_os(name).map(PathBuf::from))
}

/// The same resolution over an injected environment, so each platform rule is testable.
fn resolve(var: &dyn Fn(&str) -> Option<PathBuf>) -> Result<PathBuf> {
    if let Some(path) = var(HOME_OVERRIDE).filter(|p| !p.as_os_str().is_empty()) {
        return check_override(path);
    }
    platform_dir(var)
}

fn check_override(path: PathBuf) -> Result<PathBuf> {
    if !path.is_absolute() {
        return Err(Error::BadOverride {
            path,
            reason: "it is a relative path",
        });
    }
    Ok(path)
}

#[cfg(target_os = "macos")]
fn platform_dir(var: &dyn Fn(&str) -> Option<PathBuf>) -> Result<PathBuf> {
    let home = absolute(var("HOME")).ok_or(Error::NoDataDir {
        reason: "HOME is unset",
    })?;
    Ok(home.join("Library/Application Support/Certgate"))
}

#[cfg(windows)]
fn platform_dir(var: &dyn Fn(&str) -> Option<PathBuf>) -> Result<PathBuf> {
    let appdata = absolute(var("APPDATA")).ok_or(Error::NoDataDir {
        reason: "APPDATA is unset",
    })?;
    Ok(appdata.join("Certgate"))
}

#[cfg(not(any(target_os = "macos", windows)))]
fn platform_dir(var: &dyn Fn(&str) -> Option<PathBuf>) -> Result<PathBuf> {
    // XDG says a relative XDG_DATA_HOME is invalid and must be ignored.
    if let Some(xdg) = absolute(var("XDG_DATA_HOME")) {
        return Ok(xdg.join("certgate"));
    }
    let home = absolute(var("HOME")).ok_or(Error::NoDataDir {
        reason: "HOME and XDG_DATA_HOME are unset",
    })?;
    Ok(home.join(".local/share/certgate"))
}

fn absolute(path: Option<PathBuf>) -> Option<PathBuf> {
    path.filter(|p| Path::is_absolute(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<PathBuf> {
        let map: HashMap<String, PathBuf> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), PathBuf::from(v)))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn override_wins_over_platform_dirs() {
        let env = env_of(&[("CERTGATE_HOME", "/tmp/cg"), ("HOME", "/home/u")]);
        assert_eq!(resolve(&env).ok(), Some(PathBuf::from("/tmp/cg")));
    }

    #[test]
    fn relative_override_is_refused_not_guessed() {
        let env = env_of(&[("CERTGATE_HOME", "rel/dir"), ("HOME", "/home/u")]);
        assert!(matches!(resolve(&env), Err(Error::BadOverride { .. })));
    }

    #[test]
    fn empty_override_is_ignored() {
        let env = env_of(&[("CERTGATE_HOME", ""), ("HOME", "/home/u")]);
        assert!(resolve(&env).is_ok(), "an empty CERTGATE_HOME means unset");
    }

    #[cfg(not(any(target_os = "macos", windows)))]
    #[test]
    fn linux_follows_xdg_then_home() {
        let xdg = env_of(&[("XDG_DATA_HOME", "/x"), ("HOME", "/home/u")]);
        assert_eq!(resolve(&xdg).ok(), Some(PathBuf::from("/x/certgate")));
        let relative_xdg = env_of(&[("XDG_DATA_HOME", "x"), ("HOME", "/home/u")]);
        assert_eq!(
            resolve(&relative_xdg).ok(),
            Some(PathBuf::from("/home/u/.local/share/certgate"))
        );
        assert!(matches!(
            resolve(&env_of(&[])),
            Err(Error::NoDataDir { .. })
        ));
    }
}
