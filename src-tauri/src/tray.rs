//! The tray icon and its menu, and the fallback to a plain window where no tray host exists.

use std::fmt;

use tauri::menu::{Menu, MenuEvent, MenuId, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{App, AppHandle, Manager, Runtime};

use crate::MAIN_WINDOW;

/// The tray menu's entries. Menu ids are strings on the wire; this enum is the only place that
/// spells them, so a click can never be matched against a typo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayItem {
    Open,
    Quit,
}

impl TrayItem {
    const ALL: [Self; 2] = [Self::Open, Self::Quit];

    fn id(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Quit => "quit",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Open => "Open",
            Self::Quit => "Quit",
        }
    }
}

impl From<TrayItem> for MenuId {
    fn from(item: TrayItem) -> Self {
        MenuId::new(item.id())
    }
}

/// A menu event whose id is not one of [`TrayItem`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownMenuId(pub String);

impl TryFrom<&MenuId> for TrayItem {
    type Error = UnknownMenuId;

    fn try_from(id: &MenuId) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|item| item.id() == id.as_ref())
            .ok_or_else(|| UnknownMenuId(id.as_ref().to_owned()))
    }
}

/// Whether the app lives in the tray, or only in its window because there is no tray to live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayMode {
    /// Closing the window hides it; Quit in the tray menu ends the app.
    Tray,
    /// No tray host: the window stays the way to reach the app, and closing it quits.
    WindowOnly { reason: String },
}

impl fmt::Display for TrayMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tray => f.write_str("tray"),
            Self::WindowOnly { reason } => write!(f, "window only ({reason})"),
        }
    }
}

/// Whether closing the last window should leave the app running. Only with a tray icon: in
/// the window-only fallback (or before start-up decided) the window is the only way back in.
pub fn lives_in_tray(mode: Option<&TrayMode>) -> bool {
    mode == Some(&TrayMode::Tray)
}

/// Puts the icon in the tray, or falls back to showing the window. Never fails: a desktop
/// without a tray must still get a working app.
pub fn install<R: Runtime>(app: &App<R>) -> TrayMode {
    let mode = match host::available().and_then(|()| build(app).map_err(|e| e.to_string())) {
        Ok(()) => TrayMode::Tray,
        Err(reason) => {
            tracing::warn!(
                %reason,
                "no tray host: falling back to the window; closing it quits the app"
            );
            show_main_window(app.handle());
            TrayMode::WindowOnly { reason }
        }
    };
    tracing::info!(%mode, "started");
    mode
}

fn build<R: Runtime>(app: &App<R>) -> tauri::Result<()> {
    let open = MenuItem::with_id(
        app,
        TrayItem::Open,
        TrayItem::Open.label(),
        true,
        None::<&str>,
    )?;
    let quit = MenuItem::with_id(
        app,
        TrayItem::Quit,
        TrayItem::Quit.label(),
        true,
        None::<&str>,
    )?;
    let separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&open, &separator, &quit])?;
    TrayIconBuilder::with_id("certgate")
        .icon(tauri::image::Image::from_bytes(include_bytes!(
            "../../icons/tray-ready.png"
        ))?)
        .tooltip("Certgate")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .build(app)?;
    Ok(())
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    match TrayItem::try_from(event.id()) {
        Ok(TrayItem::Open) => show_main_window(app),
        Ok(TrayItem::Quit) => {
            tracing::info!("quit from the tray menu");
            app.exit(0);
        }
        Err(UnknownMenuId(id)) => tracing::warn!(%id, "tray menu event with an unknown id"),
    }
}

/// Shows, restores and focuses the main window, re-creating it from the config if it is gone.
pub fn show_main_window<R: Runtime>(app: &AppHandle<R>) {
    let window = match app.get_webview_window(MAIN_WINDOW) {
        Some(window) => Ok(window),
        None => match app.config().app.windows.first() {
            Some(config) => tauri::WebviewWindowBuilder::from_config(app, config)
                .and_then(tauri::WebviewWindowBuilder::build),
            None => {
                tracing::error!("tauri.conf.json defines no window");
                return;
            }
        },
    };
    let shown = window.and_then(|w| {
        w.show()?;
        w.unminimize()?;
        w.set_focus()
    });
    if let Err(err) = shown {
        tracing::error!(%err, "cannot show the main window");
    }
}

/// Is anything on the session bus going to display a StatusNotifierItem? Tauri cannot tell:
/// with no host it builds the icon anyway and it silently goes nowhere, so ask the bus.
#[cfg(target_os = "linux")]
mod host {
    use std::sync::mpsc;
    use std::time::Duration;

    pub const WATCHER: &str = "org.kde.StatusNotifierWatcher";
    /// A bus that does not answer within this is as good as no bus for a tray.
    const TIMEOUT: Duration = Duration::from_secs(3);

    pub fn available() -> Result<(), String> {
        let (tx, rx) = mpsc::channel();
        // On its own thread so a hung bus cannot hang the start-up beyond TIMEOUT.
        std::thread::spawn(move || {
            let _ = tx.send(zbus::block_on(watcher_has_owner()));
        });
        match rx.recv_timeout(TIMEOUT) {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(format!("{WATCHER} has no owner on the session bus")),
            Ok(Err(err)) => Err(format!("no D-Bus session bus: {err}")),
            Err(_) => Err(format!("the session bus did not answer within {TIMEOUT:?}")),
        }
    }

    async fn watcher_has_owner() -> zbus::Result<bool> {
        let bus = zbus::Connection::session().await?;
        let reply = bus
            .call_method(
                Some("org.freedesktop.DBus"),
                "/org/freedesktop/DBus",
                Some("org.freedesktop.DBus"),
                "NameHasOwner",
                &(WATCHER,),
            )
            .await?;
        reply.body().deserialize::<bool>()
    }
}

/// Windows and macOS always have a notification area / menu bar.
#[cfg(not(target_os = "linux"))]
mod host {
    pub fn available() -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_ids_round_trip_through_the_enum() {
        for item in TrayItem::ALL {
            let id = MenuId::from(item);
            assert_eq!(
                TrayItem::try_from(&id),
                Ok(item),
                "{item:?} must be recognised from its own id"
            );
        }
    }

    #[test]
    fn menu_ids_are_distinct_and_unknown_ids_are_rejected() {
        assert_ne!(TrayItem::Open.id(), TrayItem::Quit.id());
        assert_eq!(
            TrayItem::try_from(&MenuId::new("Quit")),
            Err(UnknownMenuId("Quit".into())),
            "ids are matched exactly, not by label"
        );
    }

    #[test]
    fn only_a_tray_app_survives_its_window_closing() {
        assert!(lives_in_tray(Some(&TrayMode::Tray)));
        assert!(
            !lives_in_tray(Some(&TrayMode::WindowOnly {
                reason: "no watcher".into()
            })),
            "without a tray, a hidden window would leave the user no way to quit"
        );
        assert!(!lives_in_tray(None));
    }

    #[test]
    fn the_menu_offers_open_and_quit() {
        let labels: Vec<_> = TrayItem::ALL.iter().map(|i| i.label()).collect();
        assert_eq!(
            labels,
            ["Open", "Quit"],
            "the e2e test clicks the item labelled Quit"
        );
    }
}
