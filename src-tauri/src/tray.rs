//! The tray icon and its menu, and the fallback to a plain window where no tray host exists.

use std::fmt;

use certgate_posture::FactName;
use certgate_training::notice::Overall;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuId, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{App, AppHandle, Emitter, Manager, Runtime};

use crate::MAIN_WINDOW;
use crate::state::AppState;

/// The tray menu's entries. Menu ids are strings on the wire; this enum is the only place that
/// spells them, so a click can never be matched against a typo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayItem {
    Open,
    ContinueTraining,
    /// Copilot access in words, with a check mark when on: a click turns it off or on.
    Access,
    /// Puts the proxy's base URL on the clipboard.
    CopyProxyAddress,
    /// Puts the tools' proxy key on the clipboard.
    CopyProxyKey,
    /// Send training records, fetch tokens, refresh the gate.
    SyncNow,
    /// The posture sub-menu's title.
    Posture,
    /// One fact in the posture sub-menu (shown, not clickable).
    Fact(FactName),
    Quit,
}

impl TrayItem {
    const ACTIONS: [Self; 8] = [
        Self::Open,
        Self::ContinueTraining,
        Self::Access,
        Self::CopyProxyAddress,
        Self::CopyProxyKey,
        Self::SyncNow,
        Self::Posture,
        Self::Quit,
    ];

    fn id(self) -> String {
        match self {
            Self::Open => "open".into(),
            Self::ContinueTraining => "continue-training".into(),
            Self::Access => "access".into(),
            Self::CopyProxyAddress => "copy-proxy-address".into(),
            Self::CopyProxyKey => "copy-proxy-key".into(),
            Self::SyncNow => "sync-now".into(),
            Self::Posture => "posture".into(),
            Self::Fact(name) => format!("fact:{}", name.as_str()),
            Self::Quit => "quit".into(),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Open => "Open Certgate",
            Self::ContinueTraining => "Continue training",
            Self::Access => "Copilot access",
            Self::CopyProxyAddress => "Copy proxy address",
            Self::CopyProxyKey => "Copy proxy key",
            Self::SyncNow => "Sync now",
            Self::Posture => "Posture",
            Self::Fact(name) => name.as_str(),
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
        Self::ACTIONS
            .into_iter()
            .chain(FactName::ALL.into_iter().map(Self::Fact))
            .find(|item| item.id() == id.as_ref())
            .ok_or_else(|| UnknownMenuId(id.as_ref().to_owned()))
    }
}

/// The icon file for a state: distinct by shape as well as colour (icons/tray-*.png).
fn icon_bytes(state: Overall) -> &'static [u8] {
    match state {
        Overall::Ready => include_bytes!("../../icons/tray-ready.png"),
        Overall::ActionNeeded => include_bytes!("../../icons/tray-action.png"),
        Overall::Blocked => include_bytes!("../../icons/tray-blocked.png"),
    }
}

/// The tooltip: the state in words.
pub fn tooltip(state: Overall) -> String {
    format!("Certgate: {}", state.label())
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

const TRAY_ID: &str = "certgate";

fn item<R: Runtime, M: Manager<R>>(
    app: &M,
    it: TrayItem,
    enabled: bool,
) -> tauri::Result<MenuItem<R>> {
    MenuItem::with_id(app, it, it.label(), enabled, None::<&str>)
}

/// The menu for the current posture: Open, Continue training, Posture ▸ (each fact ✔/✘), Quit.
fn menu<R: Runtime, M: Manager<R>>(app: &M) -> tauri::Result<Menu<R>> {
    let facts: Vec<MenuItem<R>> = match app.state::<AppState>().posture() {
        Ok(p) => {
            let view = p.view();
            FactName::ALL
                .into_iter()
                .zip(view.facts)
                .filter(|(_, f)| f.required)
                .map(|(name, f)| {
                    let mark = if f.ok { "✔" } else { "✘" };
                    MenuItem::with_id(
                        app,
                        TrayItem::Fact(name),
                        format!("{mark} {}", name.as_str()),
                        false,
                        None::<&str>,
                    )
                })
                .collect::<tauri::Result<_>>()?
        }
        Err(_) => Vec::new(),
    };
    let fact_refs: Vec<&dyn tauri::menu::IsMenuItem<R>> = facts
        .iter()
        .map(|f| f as &dyn tauri::menu::IsMenuItem<R>)
        .collect();
    let posture = Submenu::with_id_and_items(
        app,
        TrayItem::Posture,
        TrayItem::Posture.label(),
        true,
        &fact_refs,
    )?;
    let view = app.state::<crate::access::Access>().view();
    let listening = view.proxy_url.is_some();
    let access = CheckMenuItem::with_id(
        app,
        TrayItem::Access,
        access_line(&view),
        listening,
        view.state != crate::dto::AccessState::Off,
        None::<&str>,
    )?;
    Menu::with_items(
        app,
        &[
            &item(app, TrayItem::Open, true)?,
            &item(app, TrayItem::ContinueTraining, true)?,
            &access,
            &item(app, TrayItem::CopyProxyAddress, listening)?,
            &item(app, TrayItem::CopyProxyKey, listening)?,
            &item(app, TrayItem::SyncNow, true)?,
            &posture,
            &PredefinedMenuItem::separator(app)?,
            &item(app, TrayItem::Quit, true)?,
        ],
    )
}

/// Copilot access in words for the menu, e.g. "Copilot access: ready on 127.0.0.1:8787".
pub fn access_line(view: &crate::dto::AccessView) -> String {
    use crate::dto::AccessState;
    let state = match view.state {
        AccessState::Starting => "starting",
        AccessState::Ready => "ready",
        AccessState::Blocked => "not yet",
        AccessState::Unavailable => "unavailable",
        AccessState::Off => "off",
    };
    match &view.proxy_url {
        Some(url) => format!(
            "{}: {state} on {}",
            TrayItem::Access.label(),
            url.trim_start_matches("http://")
        ),
        None => format!("{}: {state}", TrayItem::Access.label()),
    }
}

fn build<R: Runtime>(app: &App<R>) -> tauri::Result<()> {
    let (state, _) = app.state::<AppState>().overall();
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(tauri::image::Image::from_bytes(icon_bytes(state))?)
        .tooltip(tooltip(state))
        .menu(&menu(app)?)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .build(app)?;
    Ok(())
}

/// Re-reads the engine's state and updates icon, tooltip and menu. No tray (tests, no host):
/// nothing to do.
pub fn refresh<R: Runtime>(app: &AppHandle<R>) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let (state, _) = app.state::<AppState>().overall();
    let done = tauri::image::Image::from_bytes(icon_bytes(state))
        .and_then(|icon| tray.set_icon(Some(icon)))
        .and_then(|()| tray.set_tooltip(Some(tooltip(state))))
        .and_then(|()| tray.set_menu(Some(menu(app)?)));
    if let Err(err) = done {
        tracing::warn!(%err, "cannot update the tray");
    }
}

fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    match TrayItem::try_from(event.id()) {
        Ok(TrayItem::Open) => {
            show_main_window(app);
        }
        Ok(TrayItem::ContinueTraining) => open_screen(app, "training"),
        Ok(TrayItem::SyncNow) => crate::access::spawn_sync(app.clone()),
        Ok(TrayItem::Access) => {
            let access = app.state::<crate::access::Access>();
            let on = access.view().state == crate::dto::AccessState::Off;
            if let Err(e) = access.switch(on) {
                tracing::warn!(code = ?e.code, "cannot switch copilot access: {}", e.message);
            }
            refresh(app);
        }
        Ok(item @ (TrayItem::CopyProxyAddress | TrayItem::CopyProxyKey)) => copy(app, item),
        Ok(TrayItem::Posture | TrayItem::Fact(_)) => {}
        Ok(TrayItem::Quit) => {
            tracing::info!("quit from the tray menu");
            app.exit(0);
        }
        Err(UnknownMenuId(id)) => tracing::warn!(%id, "tray menu event with an unknown id"),
    }
}

/// Puts the proxy's address or key on the clipboard (nothing is logged of the key).
fn copy<R: Runtime>(app: &AppHandle<R>, item: TrayItem) {
    use tauri_plugin_clipboard_manager::ClipboardExt;
    let view = app.state::<crate::access::Access>().view();
    let text = match item {
        TrayItem::CopyProxyAddress => view.proxy_url,
        _ => view.api_key,
    };
    let Some(text) = text else {
        tracing::warn!("nothing to copy: copilot access is not running");
        return;
    };
    match app.clipboard().write_text(text) {
        Ok(()) => tracing::info!(what = item.label(), "copied to the clipboard"),
        Err(err) => tracing::warn!(%err, "cannot write to the clipboard"),
    }
}

/// Event the window listens to for "go to this screen" (payload: the screen name).
pub const NAVIGATE_EVENT: &str = "navigate";

/// The screen a window built anew opens on: it cannot hear an event sent before its page
/// listens, so it asks for this once at start (`take_pending_screen`).
#[derive(Debug, Default)]
pub struct PendingScreen(std::sync::Mutex<Option<String>>);

impl PendingScreen {
    pub fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut s| s.take())
    }

    fn set(&self, screen: &str) {
        if let Ok(mut s) = self.0.lock() {
            *s = Some(screen.to_owned());
        }
    }
}

/// Shows the window on `screen`: told by event when the window is alive, else on its start.
pub fn open_screen<R: Runtime>(app: &AppHandle<R>, screen: &str) {
    if app.get_webview_window(MAIN_WINDOW).is_none() {
        app.state::<PendingScreen>().set(screen);
        show_main_window(app);
    } else {
        show_main_window(app);
        if let Err(err) = app.emit(NAVIGATE_EVENT, screen) {
            tracing::warn!(%err, screen, "cannot ask the window to switch screens");
        }
    }
}

/// Shows, restores and focuses the main window, building it again from the config if it was
/// closed.
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
        let facts = FactName::ALL.into_iter().map(TrayItem::Fact);
        for item in TrayItem::ACTIONS.into_iter().chain(facts) {
            let id = MenuId::from(item);
            assert_eq!(
                TrayItem::try_from(&id),
                Ok(item),
                "{item:?} must be recognised from its own id"
            );
        }
    }

    #[test]
    fn the_access_line_says_the_state_and_where_the_proxy_listens() {
        let mut view = crate::dto::AccessView::starting();
        assert_eq!(access_line(&view), "Copilot access: starting");
        view.state = crate::dto::AccessState::Ready;
        view.proxy_url = Some("http://127.0.0.1:8787".into());
        assert_eq!(
            access_line(&view),
            "Copilot access: ready on 127.0.0.1:8787"
        );
        view.state = crate::dto::AccessState::Off;
        assert_eq!(access_line(&view), "Copilot access: off on 127.0.0.1:8787");
    }

    #[test]
    fn a_pending_screen_is_taken_once() {
        let pending = PendingScreen::default();
        assert_eq!(pending.take(), None);
        pending.set("training");
        assert_eq!(pending.take().as_deref(), Some("training"));
        assert_eq!(
            pending.take(),
            None,
            "a later window opens where it always does"
        );
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
    fn the_menu_labels_are_the_ones_the_e2e_test_clicks() {
        let labels: Vec<_> = TrayItem::ACTIONS.iter().map(|i| i.label()).collect();
        assert_eq!(
            labels,
            [
                "Open Certgate",
                "Continue training",
                "Copilot access",
                "Copy proxy address",
                "Copy proxy key",
                "Sync now",
                "Posture",
                "Quit"
            ]
        );
    }

    #[test]
    fn each_state_has_its_own_icon_and_words() {
        let states = [Overall::Ready, Overall::ActionNeeded, Overall::Blocked];
        for a in states {
            for b in states {
                if a != b {
                    assert_ne!(
                        icon_bytes(a),
                        icon_bytes(b),
                        "{a:?} and {b:?} look different"
                    );
                }
            }
        }
        assert_eq!(tooltip(Overall::Blocked), "Certgate: blocked");
    }
}
