//! The shell driven through Tauri's IPC with the mock runtime (no display needed).

use std::path::Path;

use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewWindow, WebviewWindowBuilder};
use ts_rs::TS;

use super::*;

fn app_with(builder: Builder<MockRuntime>) -> (App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let app = builder.build(mock_context(noop_assets())).unwrap();
    let webview = WebviewWindowBuilder::new(&app, MAIN_WINDOW, Default::default())
        .build()
        .unwrap();
    (app, webview)
}

fn invoke(
    webview: &WebviewWindow<MockRuntime>,
    cmd: &str,
) -> Result<serde_json::Value, serde_json::Value> {
    get_ipc_response(
        webview,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            // On Linux the ACL only accepts the app's own origin; http://tauri.localhost is Windows'.
            url: if cfg!(windows) {
                "http://tauri.localhost"
            } else {
                "tauri://localhost"
            }
            .parse()
            .unwrap(),
            body: InvokeBody::default(),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<serde_json::Value>().unwrap())
}

#[test]
fn get_policy_summary_returns_the_demo_policy_over_ipc() {
    let (_app, webview) = app_with(build(mock_builder()));

    let summary = invoke(&webview, "get_policy_summary").expect("the embedded demo policy loads");

    let expected = serde_json::to_value(certgate_policy::demo::load().unwrap().summary()).unwrap();
    assert_eq!(
        summary, expected,
        "the command returns the engine's summary unchanged"
    );
    assert_eq!(
        summary["trust"], "demo",
        "the UI shows DEMO MODE off this field"
    );
    assert!(
        summary["tracks"].as_array().is_some_and(|t| !t.is_empty()),
        "the demo policy has certification tracks: {summary}"
    );
}

#[test]
fn a_policy_that_failed_to_load_reaches_the_ui_as_a_command_error() {
    let failed = state::AppState {
        policy: Err(CommandError::from(certgate_policy::Error::Engine(
            "no CEL".into(),
        ))),
    };
    let (_app, webview) = app_with(with_state(mock_builder(), failed));

    let err = invoke(&webview, "get_policy_summary").expect_err("there is no policy to summarise");

    assert_eq!(err["code"], "internal");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.contains("no CEL")),
        "the engine's message is passed through: {err}"
    );
}

#[test]
fn unknown_commands_are_refused() {
    let (_app, webview) = app_with(build(mock_builder()));
    assert!(invoke(&webview, "delete_everything").is_err());
}

#[test]
fn no_display_is_reported_in_words_not_a_gtk_panic() {
    // Only the message is checked here; the env is process-wide, so it is not changed.
    if cfg!(target_os = "linux")
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        let reason = display_available().unwrap_err();
        assert!(reason.contains("scripts/test"), "{reason}");
    } else {
        assert!(display_available().is_ok());
    }
}

/// Writes the TypeScript types the UI imports. CI runs this and fails if the committed files
/// differ (`git diff --exit-code ui/src/lib/bindings`).
#[test]
fn export_bindings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings");
    let cfg = ts_rs::Config::new().with_out_dir(dir);
    certgate_policy::PolicySummary::export_all(&cfg).unwrap();
    CommandError::export_all(&cfg).unwrap();
}
