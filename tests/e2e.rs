//! End-to-end: the real `certgate-app` binary on the virtual desktop that `scripts/test`
//! starts. Each test launches its own app process in its own throw-away home and finds its
//! window and tray item by process id, so the tests can run in parallel.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use certgate_e2e::{App, artifacts_dir, dbus, poll, require_desktop_session, x11};

const TITLE: &str = "Certgate";
/// A cold WebKitGTK start under Xvfb on a busy 2-core machine can take several seconds.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Colours from ui/src/app.css: the DEMO banner's border and the header's title.
const DEMO_BANNER_BORDER: &str = "#E0A100";
const TITLE_BLUE: &str = "#1F4FA3";

fn wait_for_window(app: &mut App) -> String {
    poll(START_TIMEOUT, || {
        app.assert_running();
        x11::app_window(app.pid(), TITLE)
    })
    .unwrap_or_else(|| {
        panic!(
            "no window titled {TITLE:?} within {START_TIMEOUT:?}; log:\n{}",
            app.log()
        )
    })
}

#[test]
fn window_opens_and_shows_the_demo_policy_summary() {
    require_desktop_session();
    let mut app = App::launch("window", &[]);
    let window = wait_for_window(&mut app);

    // The window maps before the web view has painted: retake until the page is there.
    let shot = artifacts_dir().join("app-window.png");
    let colours = poll(Duration::from_secs(30), || {
        x11::screenshot(&window, &shot);
        let colours = x11::colour_histogram(&shot);
        (colours.contains_key(DEMO_BANNER_BORDER) && colours.contains_key(TITLE_BLUE))
            .then_some(colours)
    })
    .unwrap_or_else(|| {
        panic!(
            "the window never showed the DEMO banner and the title (screenshot: {}); log:\n{}",
            shot.display(),
            app.log()
        )
    });
    assert!(
        colours.len() > 50,
        "a rendered page has text, borders and anti-aliasing, so many colours; got {} in {}",
        colours.len(),
        shot.display()
    );
    assert!(
        app.log().contains("DEMO"),
        "the app logs that it runs on the demo policy; log:\n{}",
        app.log()
    );
}

fn wait_for_tray_item(app: &mut App) -> dbus::Item {
    poll(START_TIMEOUT, || {
        app.assert_running();
        dbus::item_of_process(app.pid())
    })
    .unwrap_or_else(|| {
        panic!(
            "the app registered no tray item within {START_TIMEOUT:?}; log:\n{}",
            app.log()
        )
    })
}

/// Clicks the tray menu entry labelled `label`, as a panel would.
fn click_tray(item: &dbus::Item, label: &str) {
    let menu = dbus::menu_path(item).unwrap();
    let entries = dbus::menu_entries(item, &menu).unwrap();
    let entry = entries
        .iter()
        .find(|e| e.label == label)
        .unwrap_or_else(|| panic!("the tray menu has no {label:?} entry: {entries:?}"));
    dbus::click(item, &menu, entry.id).unwrap();
}

fn assert_exits_cleanly(app: &mut App, after: &str) {
    let status = app.wait_exit(Duration::from_secs(10)).unwrap_or_else(|| {
        panic!(
            "the app was still running 10 s after {after}; log:\n{}",
            app.log()
        )
    });
    assert!(
        status.success(),
        "{after} exits cleanly, got {status}; log:\n{}",
        app.log()
    );
}

#[test]
fn tray_menu_quit_over_dbus_ends_the_app_with_status_0() {
    require_desktop_session();
    assert!(
        dbus::name_has_owner(dbus::WATCHER).unwrap(),
        "no tray host on the session bus: run via scripts/test, which starts status-notifier-watcher"
    );
    let mut app = App::launch("tray", &[]);
    let item = wait_for_tray_item(&mut app);

    let menu = dbus::menu_path(&item).unwrap();
    let labels: Vec<String> = dbus::menu_entries(&item, &menu)
        .unwrap()
        .into_iter()
        .map(|e| e.label)
        .collect();
    assert_eq!(
        labels,
        ["Open", "Quit"],
        "the tray menu offers exactly Open and Quit"
    );

    click_tray(&item, "Quit");

    assert_exits_cleanly(&mut app, "Quit");
}

#[test]
fn closing_the_window_hides_it_to_the_tray_and_open_brings_it_back() {
    require_desktop_session();
    let mut app = App::launch("close-to-tray", &[]);
    let window = wait_for_window(&mut app);
    let item = wait_for_tray_item(&mut app);

    x11::request_close(&window).unwrap();

    poll(Duration::from_secs(10), || {
        (x11::is_viewable(&window) == Some(false)).then_some(())
    })
    .unwrap_or_else(|| panic!("the window is still shown 10 s after closing it"));
    std::thread::sleep(Duration::from_millis(500));
    app.assert_running();

    click_tray(&item, "Open");
    poll(Duration::from_secs(10), || {
        x11::app_window(app.pid(), TITLE)
    })
    .unwrap_or_else(|| {
        panic!(
            "Open in the tray menu did not show the window again; log:\n{}",
            app.log()
        )
    });

    click_tray(&item, "Quit");
    assert_exits_cleanly(&mut app, "Quit");
}
#[test]
fn without_a_tray_host_the_app_falls_back_to_its_window() {
    require_desktop_session();
    // A bus that does not exist: no StatusNotifierWatcher can be asked, as on a bare X session.
    let mut app = App::launch(
        "no-tray",
        &[
            (
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/certgate-e2e-bus",
            ),
            // GTK's accessibility bridge would otherwise complain about the missing bus.
            ("NO_AT_BRIDGE", "1"),
        ],
    );

    let window = wait_for_window(&mut app);

    // The window can map before the setup hook has logged its decision.
    poll(Duration::from_secs(10), || {
        app.log().contains("no tray host").then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "the fallback is logged with its reason; log:\n{}",
            app.log()
        )
    });
    assert!(
        dbus::item_of_process(app.pid()).is_none(),
        "no tray item may be registered in fallback mode"
    );
    app.assert_running();

    // With no tray to come back from, closing the window must quit, not hide.
    x11::request_close(&window).unwrap();
    assert_exits_cleanly(&mut app, "closing the only window without a tray");
}

#[test]
fn without_a_display_the_app_says_what_to_do_instead_of_panicking() {
    // Needs no desktop session: this is what a user sees over plain ssh.
    let out = std::process::Command::new(certgate_e2e::app_binary())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit 2 = usage/environment error; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("no graphical display") && stderr.contains("scripts/test"),
        "the message names the problem and the headless alternative:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "no GTK panic:\n{stderr}");
}
