//! X11 through the standard command-line tools (`xwininfo`, `xprop` from x11-utils, `import`
//! and `convert` from ImageMagick) for queries, and x11rb for the one thing no installed tool
//! does without a window manager: asking a window to close the way a title-bar × does.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

fn output(cmd: &mut Command) -> String {
    try_output(cmd).unwrap_or_else(|err| panic!("{err}"))
}

fn try_output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|err| format!("cannot run {cmd:?}: {err} (scripts/setup installs it)"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Ids of the windows titled exactly `title`. Empty when the query fails: walking the tree
/// races with other processes' windows being destroyed (X error BadWindow), and callers poll.
pub fn windows_titled(title: &str) -> Vec<String> {
    let Ok(tree) = try_output(Command::new("xwininfo").args(["-root", "-tree"])) else {
        return Vec::new();
    };
    let quoted = format!("\"{title}\"");
    tree.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let (id, rest) = line.split_once(' ')?;
            rest.starts_with(&quoted).then(|| id.to_owned())
        })
        .collect()
}

/// The `_NET_WM_PID` GTK sets on its top-level windows.
pub fn window_pid(id: &str) -> Option<u32> {
    let text = try_output(Command::new("xprop").args(["-id", id, "_NET_WM_PID"])).ok()?;
    text.split('=').nth(1)?.trim().parse().ok()
}

/// Whether the window is mapped and viewable (shown, not hidden); `None` if it cannot be
/// queried (gone).
pub fn is_viewable(id: &str) -> Option<bool> {
    try_output(Command::new("xwininfo").args(["-id", id]))
        .ok()
        .map(|info| info.contains("Map State: IsViewable"))
}

/// The viewable window titled `title` that belongs to process `pid`, if any.
pub fn app_window(pid: u32, title: &str) -> Option<String> {
    windows_titled(title)
        .into_iter()
        .find(|id| window_pid(id) == Some(pid) && is_viewable(id) == Some(true))
}

/// Saves a PNG of one window.
pub fn screenshot(window_id: &str, path: &Path) {
    output(
        Command::new("import")
            .args(["-window", window_id])
            .arg(path),
    );
}

/// Pixel count per colour (`#RRGGBB`, upper case) of an image.
pub fn colour_histogram(path: &Path) -> HashMap<String, u64> {
    let text = output(Command::new("convert").arg(path).args([
        "-alpha",
        "off",
        "-depth",
        "8",
        "-format",
        "%c",
        "histogram:info:-",
    ]));
    // Lines look like: `   1234: (255,244,214) #FFF4D6 srgb(255,244,214)`.
    text.lines()
        .filter_map(|line| {
            let (count, rest) = line.trim().split_once(':')?;
            let hex = rest.split_whitespace().find(|w| w.starts_with('#'))?;
            Some((hex.get(..7)?.to_uppercase(), count.trim().parse().ok()?))
        })
        .collect()
}

/// Sends `WM_DELETE_WINDOW`, what a window manager sends when the user clicks the title bar's
/// close button. The app decides what closing means (hide to the tray, or quit).
pub fn request_close(window_id: &str) -> Result<(), Box<dyn std::error::Error>> {
    use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt as _, EventMask};
    use x11rb::wrapper::ConnectionExt as _;

    let window = u32::from_str_radix(window_id.trim_start_matches("0x"), 16)?;
    let (conn, _screen) = x11rb::connect(None)?;
    let protocols = conn.intern_atom(false, b"WM_PROTOCOLS")?.reply()?.atom;
    let delete = conn.intern_atom(false, b"WM_DELETE_WINDOW")?.reply()?.atom;
    let event = ClientMessageEvent::new(
        32,
        window,
        protocols,
        [delete, x11rb::CURRENT_TIME, 0, 0, 0],
    );
    conn.send_event(false, window, EventMask::NO_EVENT, event)?;
    conn.sync()?;
    Ok(())
}
