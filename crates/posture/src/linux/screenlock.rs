//! Linux screen lock: GNOME (gsettings, system dconf keyfiles and locks), KDE
//! (`kscreenlockerrc`), XFCE (`xfce4-screensaver.xml`), sway (`swayidle` in the sway config).

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::fact::{Fact, FactState};
use crate::linux::gvdb::{Dconf, DconfValue, parse_dconf};
use crate::linux::root::{Fs, SysRoot};
use crate::report::ScreenLock;
use crate::runner::CommandRunner;

/// Parses `gsettings get` of a boolean (`true`).
pub fn parse_gsettings_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Parses `gsettings get` of an integer (`uint32 300`, `300`).
pub fn parse_gsettings_uint(text: &str) -> Option<u32> {
    text.split_whitespace().last()?.parse().ok()
}

/// Reads `key` of `[section]` in an ini-style file (dconf keyfiles, KDE rc files).
pub fn ini_value<'a>(text: &'a str, section: &str, key: &str) -> Option<&'a str> {
    let mut current = "";
    let mut found = None;
    for line in text.lines().map(str::trim) {
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            current = s;
        } else if current == section
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            found = Some(v.trim());
        }
    }
    found
}

/// What one desktop says.
#[derive(Debug, Clone, PartialEq, Default)]
struct Reading {
    lock: ScreenLock,
    evidence: Vec<String>,
}

/// The desktop session the check runs for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// `XDG_CURRENT_DESKTOP` (`GNOME`, `KDE`, `XFCE`, `sway`).
    pub desktop: Option<String>,
    /// A session bus is reachable (gsettings without one reports built-in defaults).
    pub has_session_bus: bool,
}

impl Session {
    /// From the environment of the running process.
    pub fn from_env() -> Self {
        Self {
            desktop: std::env::var("XDG_CURRENT_DESKTOP").ok(),
            has_session_bus: std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
        }
    }

    fn is(&self, names: &[&str]) -> bool {
        self.desktop.as_deref().is_some_and(|d| {
            d.split(':')
                .any(|part| names.iter().any(|n| part.eq_ignore_ascii_case(n)))
        })
    }
}

const LOCK_ENABLED: &str = "/org/gnome/desktop/screensaver/lock-enabled";
const IDLE_DELAY: &str = "/org/gnome/desktop/session/idle-delay";
const LOCK_DELAY: &str = "/org/gnome/desktop/screensaver/lock-delay";

/// Largest dconf database read (real ones are kilobytes).
const MAX_DCONF: usize = 16 * 1024 * 1024;

/// GNOME desktops that use these keys.
const GNOME_LIKE: [&str; 5] = ["GNOME", "ubuntu", "Unity", "Pantheon", "Budgie"];

/// The keyfiles a system database is compiled from (`/etc/dconf/db/local.d/*`, `locks/*`):
/// used when the compiled database is missing.
fn keyfile_db(fs: &dyn Fs, dir: &Path) -> Option<Dconf> {
    let files = fs.read_dir(dir).ok()?;
    let mut db = Dconf::default();
    for file in files.iter().filter(|f| *f != "locks") {
        let Ok(text) = fs.read_to_string(&dir.join(file)) else {
            continue;
        };
        for key in [LOCK_ENABLED, IDLE_DELAY, LOCK_DELAY] {
            let (section, name) = key.trim_start_matches('/').rsplit_once('/')?;
            if let Some(v) = ini_value(&text, section, name) {
                let value = match parse_gsettings_bool(v) {
                    Some(b) => DconfValue::Bool(b),
                    None => match parse_gsettings_uint(v) {
                        Some(n) => DconfValue::U32(n),
                        None => DconfValue::Other(v.to_owned()),
                    },
                };
                db.values.push((key.to_owned(), value));
            }
        }
    }
    for lock in fs.read_dir(&dir.join("locks")).unwrap_or_default() {
        let text = fs
            .read_to_string(&dir.join("locks").join(&lock))
            .unwrap_or_default();
        db.locks.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| l.starts_with('/'))
                .map(str::to_owned),
        );
    }
    Some(db)
}

/// dconf's lookup: a key locked in a system database takes that database's value; otherwise
/// the user's value; otherwise the first system database that sets it.
fn resolve<'a>(
    key: &str,
    user: Option<&'a Dconf>,
    system: &'a [(String, Dconf)],
) -> Option<(&'a DconfValue, String, bool)> {
    for (name, db) in system {
        if db.is_locked(key)
            && let Some(v) = db.get(key)
        {
            return Some((v, name.clone(), true));
        }
    }
    if let Some(v) = user.and_then(|u| u.get(key)) {
        return Some((v, "user db".to_owned(), false));
    }
    system
        .iter()
        .find_map(|(name, db)| db.get(key).map(|v| (v, name.clone(), false)))
}

fn gnome(
    root: &SysRoot,
    fs: &dyn Fs,
    runner: &dyn CommandRunner,
    timeout: Duration,
    session: &Session,
) -> Option<Reading> {
    let mut r = Reading::default();
    r.lock.source = "gnome".into();
    // System databases the user profile stacks under the user's own.
    let mut system: Vec<(String, Dconf)> = Vec::new();
    let profile = fs
        .read_to_string(&root.etc.join("dconf/profile/user"))
        .unwrap_or_default();
    for name in profile
        .lines()
        .filter_map(|l| l.trim().strip_prefix("system-db:"))
    {
        let bin = root.etc.join("dconf/db").join(name);
        let db = fs
            .read_head(&bin, MAX_DCONF)
            .ok()
            .and_then(|b| parse_dconf(&b))
            .map(|d| (format!("system db {name}"), d))
            .or_else(|| {
                keyfile_db(fs, &root.etc.join(format!("dconf/db/{name}.d")))
                    .map(|d| (format!("keyfiles {name}.d"), d))
            });
        system.extend(db);
    }
    let user = root
        .home
        .as_ref()
        .and_then(|h| fs.read_head(&h.join(".config/dconf/user"), MAX_DCONF).ok())
        .and_then(|b| parse_dconf(&b));

    let mut found = false;
    let mut word = |key: &str, r: &mut Reading| -> Option<DconfValue> {
        let (v, from, locked) = resolve(key, user.as_ref(), &system)?;
        found = true;
        let short = key.rsplit('/').next().unwrap_or(key);
        r.evidence.push(format!(
            "dconf {short} = {v:?} ({from}{})",
            if locked {
                ", locked by the administrator"
            } else {
                ""
            }
        ));
        if key == LOCK_ENABLED && locked {
            r.lock.admin_enforced = Some(true);
        }
        Some(v.clone())
    };
    if let Some(DconfValue::Bool(b)) = word(LOCK_ENABLED, &mut r) {
        r.lock.enabled = Some(b);
    }
    if let Some(DconfValue::U32(n)) = word(IDLE_DELAY, &mut r) {
        r.lock.idle_seconds = Some(n);
    }
    if let Some(DconfValue::U32(n)) = word(LOCK_DELAY, &mut r) {
        r.lock.lock_delay_seconds = Some(n);
    }

    // The effective values from the user's session, when there is one (they already
    // include the locks); without a session bus gsettings would print built-in defaults.
    if session.has_session_bus && session.is(&GNOME_LIKE) {
        let get = |schema: &str, key: &str| {
            runner
                .run("gsettings", &["get", schema, key], timeout)
                .ok()
                .filter(|o| o.success())
                .map(|o| o.stdout)
        };
        if let Some(v) = get("org.gnome.desktop.screensaver", "lock-enabled")
            .as_deref()
            .and_then(parse_gsettings_bool)
        {
            r.lock.enabled = Some(v);
            found = true;
            r.evidence.push(format!("gsettings lock-enabled {v}"));
        }
        if let Some(v) = get("org.gnome.desktop.session", "idle-delay")
            .as_deref()
            .and_then(parse_gsettings_uint)
        {
            r.lock.idle_seconds = Some(v);
            r.evidence.push(format!("gsettings idle-delay {v}"));
        }
        if let Some(v) = get("org.gnome.desktop.screensaver", "lock-delay")
            .as_deref()
            .and_then(parse_gsettings_uint)
        {
            r.lock.lock_delay_seconds = Some(v);
        }
    }
    // GTK apps leave a dconf database on any desktop: without a GNOME key or a GNOME
    // session, this is not GNOME's answer.
    if !found && !session.is(&GNOME_LIKE) {
        return None;
    }
    // GNOME's own defaults for keys not set anywhere.
    if r.lock.enabled.is_none() {
        r.lock.enabled = Some(true);
        r.evidence
            .push("lock-enabled not set: GNOME default true".into());
    }
    if r.lock.idle_seconds.is_none() {
        r.lock.idle_seconds = Some(300);
        r.evidence
            .push("idle-delay not set: GNOME default 300 s".into());
    }
    Some(r)
}

fn kde(home: &Path, fs: &dyn Fs, session: &Session) -> Option<Reading> {
    let text = match fs.read_to_string(&home.join(".config/kscreenlockerrc")) {
        Ok(t) => t,
        Err(_) if session.is(&["KDE"]) => String::new(),
        Err(_) => return None,
    };
    let autolock = ini_value(&text, "Daemon", "Autolock").map(|v| v == "true");
    let minutes = ini_value(&text, "Daemon", "Timeout").and_then(|v| v.parse::<u32>().ok());
    let grace = ini_value(&text, "Daemon", "LockGrace").and_then(|v| v.parse::<u32>().ok());
    let lock = ScreenLock {
        // KDE defaults: autolock on after 5 minutes, 5 s grace.
        enabled: Some(autolock.unwrap_or(true)),
        idle_seconds: Some(minutes.unwrap_or(5).saturating_mul(60)),
        lock_delay_seconds: Some(grace.unwrap_or(5)),
        admin_enforced: Some(text.contains("[$i]")),
        source: "kde".into(),
    };
    let evidence = vec![format!(
        "kscreenlockerrc: Autolock={}, Timeout={} min{}",
        autolock.map_or("default(true)".to_owned(), |a| a.to_string()),
        minutes.map_or("default(5)".to_owned(), |m| m.to_string()),
        if text.is_empty() {
            " (file absent, KDE defaults)"
        } else {
            ""
        }
    )];
    Some(Reading { lock, evidence })
}

/// Value of `<property name="NAME" type="..." value="V"/>` after the first `<property name="SECTION"`.
fn xfconf_value<'a>(xml: &'a str, section: &str, name: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<property name=\"{section}\""))?;
    let rest = &xml[start..];
    let at = rest.find(&format!("<property name=\"{name}\""))?;
    let tag = &rest[at..];
    let tag = &tag[..tag.find('>')?];
    let v = tag.split("value=\"").nth(1)?;
    v.split('"').next()
}

fn xfce(home: &Path, fs: &dyn Fs) -> Option<Reading> {
    let path = home.join(".config/xfce4/xfconf/xfce-perchannel-xml/xfce4-screensaver.xml");
    let xml = fs.read_to_string(&path).ok()?;
    let enabled = xfconf_value(&xml, "lock", "enabled").map(|v| v == "true");
    let delay = xfconf_value(&xml, "idle-activation", "delay").and_then(|v| v.parse::<u32>().ok());
    Some(Reading {
        lock: ScreenLock {
            enabled: Some(enabled.unwrap_or(true)),
            idle_seconds: Some(delay.unwrap_or(5).saturating_mul(60)),
            lock_delay_seconds: None,
            admin_enforced: None,
            source: "xfce".into(),
        },
        evidence: vec![format!(
            "xfce4-screensaver.xml: lock enabled={}, idle delay={} min",
            enabled.map_or("default(true)".to_owned(), |e| e.to_string()),
            delay.map_or("default(5)".to_owned(), |d| d.to_string())
        )],
    })
}

/// Finds `timeout N '<cmd containing swaylock>'` in a sway config.
pub fn parse_sway_idle(config: &str) -> Option<u32> {
    // Long `exec swayidle` lines are usually split with trailing backslashes.
    let joined = config.replace("\\\n", " ");
    joined
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains("swayidle"))
        .find_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.windows(3).find_map(|w| {
                (w[0] == "timeout" && w[2].contains("swaylock")).then(|| w[1].parse().ok())?
            })
        })
}

fn sway(home: &Path, fs: &dyn Fs) -> Option<Reading> {
    let text = fs.read_to_string(&home.join(".config/sway/config")).ok()?;
    let idle = parse_sway_idle(&text);
    Some(Reading {
        lock: ScreenLock {
            enabled: Some(idle.is_some()),
            idle_seconds: idle,
            lock_delay_seconds: None,
            admin_enforced: None,
            source: "sway".into(),
        },
        evidence: vec![match idle {
            Some(s) => format!("sway config: swayidle locks with swaylock after {s} s"),
            None => "sway config: no swayidle timeout running swaylock".to_owned(),
        }],
    })
}

/// Checks the screen lock.
pub fn check_screen_lock(
    root: &SysRoot,
    fs: &dyn Fs,
    runner: &dyn CommandRunner,
    timeout: Duration,
    session: &Session,
    max_idle_seconds: u32,
    at: DateTime<Utc>,
) -> Fact<ScreenLock> {
    let home = root.home.as_deref();
    let kde_first = session.is(&["KDE"]);
    let reading = if kde_first {
        home.and_then(|h| kde(h, fs, session))
    } else {
        None
    }
    .or_else(|| gnome(root, fs, runner, timeout, session))
    .or_else(|| home.and_then(|h| kde(h, fs, session)))
    .or_else(|| home.and_then(|h| xfce(h, fs)))
    .or_else(|| home.and_then(|h| sway(h, fs)));
    let Some(r) = reading else {
        return Fact::unknown(
            "file",
            "no GNOME, KDE, XFCE or sway screen lock settings found (headless, or an unsupported desktop)",
            at,
        );
    };
    let idle_ok = r
        .lock
        .idle_seconds
        .is_some_and(|s| s > 0 && s <= max_idle_seconds);
    let (state, why) = match (r.lock.enabled, idle_ok) {
        (Some(true), true) => (
            FactState::Ok,
            format!("locks after ≤ {max_idle_seconds} s idle"),
        ),
        (Some(false), _) => (FactState::Fail, "screen lock disabled".to_owned()),
        (Some(true), false) => (
            FactState::Fail,
            format!(
                "idle time {:?} s is 0 (never) or above {max_idle_seconds} s",
                r.lock.idle_seconds
            ),
        ),
        (None, _) => (FactState::Unknown, "lock setting not readable".to_owned()),
    };
    let method = format!("{}-settings", r.lock.source);
    Fact::new(state, Some(r.lock), method, at)
        .with_all(r.evidence)
        .with(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsettings_values() {
        assert_eq!(parse_gsettings_bool("true\n"), Some(true));
        assert_eq!(parse_gsettings_bool("false"), Some(false));
        assert_eq!(parse_gsettings_bool("No such key"), None);
        assert_eq!(parse_gsettings_uint("uint32 300\n"), Some(300));
        assert_eq!(parse_gsettings_uint("uint32 0"), Some(0));
        assert_eq!(parse_gsettings_uint("oops"), None);
    }

    #[test]
    fn ini_sections() {
        let t = "[Daemon]\nAutolock=false\nTimeout=10\n[Other]\nTimeout=99\n";
        assert_eq!(ini_value(t, "Daemon", "Timeout"), Some("10"));
        assert_eq!(ini_value(t, "Daemon", "Autolock"), Some("false"));
        assert_eq!(ini_value(t, "Daemon", "Missing"), None);
    }

    #[test]
    fn sway_idle() {
        let c = "exec swayidle -w \\\n timeout 300 'swaylock -f -c 000000' \\\n";
        assert_eq!(
            parse_sway_idle(c),
            Some(300),
            "continuation lines are joined"
        );
        let c = "exec swayidle -w timeout 300 'swaylock -f -c 000000' timeout 600 'swaymsg \"output * dpms off\"'\n";
        assert_eq!(parse_sway_idle(c), Some(300));
        assert_eq!(
            parse_sway_idle("# exec swayidle timeout 300 swaylock\n"),
            None
        );
    }

    #[test]
    fn xfconf() {
        let xml = r#"<channel name="xfce4-screensaver" version="1.0">
  <property name="saver" type="empty">
    <property name="idle-activation" type="empty">
      <property name="delay" type="int" value="10"/>
    </property>
  </property>
  <property name="lock" type="empty">
    <property name="enabled" type="bool" value="false"/>
  </property>
</channel>"#;
        assert_eq!(xfconf_value(xml, "lock", "enabled"), Some("false"));
        assert_eq!(xfconf_value(xml, "idle-activation", "delay"), Some("10"));
    }
}
