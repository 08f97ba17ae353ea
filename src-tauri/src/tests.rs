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
    invoke_with(webview, cmd, serde_json::json!({}))
}

fn invoke_with(
    webview: &WebviewWindow<MockRuntime>,
    cmd: &str,
    args: serde_json::Value,
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
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<serde_json::Value>().unwrap())
}

#[test]
fn the_exception_form_asks_for_what_the_policy_names_and_filing_waits_for_access() {
    let (_app, webview) = app_with(build(mock_builder()));
    let form = invoke(&webview, "get_exception_form").unwrap();
    assert_eq!(form["allowed"], true);
    assert_eq!(
        form["fields"],
        serde_json::json!([
            "vendorName",
            "ticketOrProjectId",
            "dataSensitivity",
            "compensatingControls"
        ])
    );
    assert_eq!(form["maxDurationDays"], 7);
    assert_eq!(
        form["approverRoles"],
        serde_json::json!(["FunctionalOwner", "Security"])
    );
    // Under the mock runtime copilot access never starts: filing says so instead of guessing.
    let err = invoke_with(
        &webview,
        "request_exception",
        serde_json::json!({"input": {"track": "AI_CONSUMER_EXTERNAL", "durationDays": 2,
                                      "justification": {}}}),
    )
    .unwrap_err();
    assert_eq!(err["code"], "access");
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
    let no_cel = || CommandError::from(certgate_policy::Error::Engine("no CEL".into()));
    let failed = state::AppState {
        policy: Err(no_cel()),
        training: Err(no_cel()),
        posture: Err(no_cel()),
        enrolment: None,
    };
    let device = device::DeviceStore::system();
    let (_app, webview) = app_with(with_state(mock_builder(), failed, device));

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
    dto::Dashboard::export_all(&cfg).unwrap();
    dto::PostureView::export_all(&cfg).unwrap();
    dto::TrackView::export_all(&cfg).unwrap();
    dto::ModuleView::export_all(&cfg).unwrap();
    dto::ProgressInput::export_all(&cfg).unwrap();
    dto::AttemptView::export_all(&cfg).unwrap();
    dto::AnswerInput::export_all(&cfg).unwrap();
    dto::AnswerFeedback::export_all(&cfg).unwrap();
    dto::AttemptResult::export_all(&cfg).unwrap();
    dto::AcknowledgementView::export_all(&cfg).unwrap();
    dto::AccessView::export_all(&cfg).unwrap();
    dto::EnrolmentView::export_all(&cfg).unwrap();
    dto::EnrolmentLinkView::export_all(&cfg).unwrap();
    dto::UpdateView::export_all(&cfg).unwrap();
    dto::ActivityItem::export_all(&cfg).unwrap();
    dto::SettingsView::export_all(&cfg).unwrap();
    dto::ExceptionForm::export_all(&cfg).unwrap();
    dto::ExceptionInput::export_all(&cfg).unwrap();
    dto::ExceptionView::export_all(&cfg).unwrap();
    dto::ChatTurn::export_all(&cfg).unwrap();
    dto::ChatReplyView::export_all(&cfg).unwrap();
}

/// A demo app over a fresh database, posture read from an empty snapshot (every fact fails or
/// is unknown), so no test touches the real data directory or depends on this machine.
struct Demo {
    _dir: tempfile::TempDir,
    _app: App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
}

fn demo() -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let sysroot = dir.path().join("sysroot");
    std::fs::create_dir(&sysroot).unwrap();
    let db = certgate_store::Database::open(&dir.path().join("certgate.db")).unwrap();
    let records = certgate_training::Records::new(db).unwrap();
    let state = state::AppState::for_tests(records, &sysroot);
    let device = device::DeviceStore::new(dir.path().join("certgate.db"), None);
    let (app, webview) = app_with(with_state(mock_builder(), state, device));
    Demo {
        _dir: dir,
        _app: app,
        webview,
    }
}

const TRACK: &str = "AI_CONSUMER_EXTERNAL";

/// The right (or, with `right == false`, a wrong) answer to a shown question, from the bank.
fn answer_for(question: &serde_json::Value, right: bool) -> serde_json::Value {
    let policy = certgate_policy::demo::load().unwrap();
    let bundle = certgate_training::demo::bundle(&policy).unwrap();
    let id = question["id"].as_str().unwrap();
    let q = bundle.track(TRACK).unwrap().bank.question(id).unwrap();
    match &q.kind {
        certgate_training::QuestionKind::TrueFalse { answer } => {
            serde_json::json!({ "questionId": id, "value": *answer == right })
        }
        _ => {
            let ids: Vec<&str> = q
                .options()
                .iter()
                .filter(|o| o.correct == right)
                .map(|o| o.id.as_str())
                .take(if right { usize::MAX } else { 1 })
                .collect();
            serde_json::json!({ "questionId": id, "optionIds": ids })
        }
    }
}

fn take_quiz(webview: &WebviewWindow<MockRuntime>, right: bool) -> serde_json::Value {
    let attempt = invoke_with(
        webview,
        "start_attempt",
        serde_json::json!({ "track": TRACK }),
    )
    .unwrap();
    for q in attempt["questions"].as_array().unwrap() {
        let feedback = invoke_with(
            webview,
            "answer_question",
            serde_json::json!({ "answer": answer_for(q, right) }),
        )
        .unwrap();
        assert_eq!(feedback["correct"], right, "{feedback}");
    }
    invoke(webview, "submit_attempt").unwrap()
}

#[test]
fn the_dashboard_shows_demo_certifications_posture_and_the_next_action() {
    let d = demo();
    let dash = invoke(&d.webview, "get_dashboard").unwrap();
    assert_eq!(dash["demo"], true, "the DEMO banner depends on this");
    let certs = dash["certifications"].as_array().unwrap();
    assert!(
        certs
            .iter()
            .any(|c| c["track"] == TRACK && c["status"] == "notStarted"),
        "{dash}"
    );
    assert_eq!(dash["posture"]["facts"].as_array().unwrap().len(), 11);
    assert_eq!(dash["acknowledgementNeeded"], true);
    if dash["posture"]["compliant"] == false {
        assert_eq!(dash["overall"], "blocked", "posture not ok blocks: {dash}");
        assert_eq!(dash["nextAction"], "fix-posture");
    }
}

#[test]
fn recheck_posture_runs_the_check_and_gives_a_fix_per_failing_required_fact() {
    let d = demo();
    let view = invoke(&d.webview, "recheck_posture").unwrap();
    assert_eq!(
        view["pending"], false,
        "recheck waits for a real report: {view}"
    );
    assert_eq!(
        view["compliant"], false,
        "an empty snapshot is not a compliant device"
    );
    let facts = view["facts"].as_array().unwrap();
    let failing_required: Vec<_> = facts
        .iter()
        .filter(|f| f["required"] == true && f["ok"] == false)
        .collect();
    assert!(!failing_required.is_empty(), "{view}");
    for f in failing_required {
        assert!(
            f["fixHint"].as_str().is_some_and(|h| h.len() > 10),
            "each failing required fact says how to fix it: {f}"
        );
    }
    assert!(
        facts
            .iter()
            .filter(|f| f["required"] == false)
            .all(|f| f["fixHint"].is_null())
    );
    let cached = invoke(&d.webview, "get_posture").unwrap();
    assert_eq!(
        cached["pending"], false,
        "get_posture reads the cached real report"
    );
}

#[test]
fn reading_a_module_saves_progress_and_resumes_there() {
    let d = demo();
    let tracks = invoke(&d.webview, "list_tracks").unwrap();
    let track = tracks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == TRACK)
        .unwrap();
    let first = track["modules"][0]["id"].as_str().unwrap().to_owned();
    let module = invoke_with(&d.webview, "get_module", serde_json::json!({ "id": first })).unwrap();
    assert!(
        module["body"].as_str().unwrap().len() > 100,
        "the Markdown is sent"
    );
    assert_eq!(module["position"], 0);
    assert_eq!(module["read"], false);

    let progress =
        serde_json::json!({ "progress": { "moduleId": first, "position": 2, "completed": false } });
    invoke_with(&d.webview, "save_progress", progress).unwrap();
    let again = invoke_with(&d.webview, "get_module", serde_json::json!({ "id": first })).unwrap();
    assert_eq!(again["position"], 2, "the reader resumes where it stopped");

    let done =
        serde_json::json!({ "progress": { "moduleId": first, "position": 5, "completed": true } });
    assert_eq!(
        invoke_with(&d.webview, "save_progress", done).unwrap()["read"],
        true
    );
    let back =
        serde_json::json!({ "progress": { "moduleId": first, "position": 0, "completed": false } });
    assert_eq!(
        invoke_with(&d.webview, "save_progress", back).unwrap()["read"],
        true,
        "read stays read"
    );

    let dash = invoke(&d.webview, "get_dashboard").unwrap();
    assert!(
        dash["certifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["track"] == TRACK && c["status"] == "inProgress")
    );

    let missing = invoke_with(
        &d.webview,
        "get_module",
        serde_json::json!({ "id": "NOPE" }),
    )
    .unwrap_err();
    assert_eq!(missing["code"], "not-found");
}

#[test]
fn an_attempt_never_sends_the_answers_before_they_are_given() {
    let d = demo();
    let attempt = invoke_with(
        &d.webview,
        "start_attempt",
        serde_json::json!({ "track": TRACK }),
    )
    .unwrap();
    let mut keys = Vec::new();
    collect_keys(&attempt, &mut keys);
    for secret in ["correct", "explanation", "answer", "correctOptionIds"] {
        assert!(
            !keys.contains(&secret.to_owned()),
            "no {secret} before answering: {attempt}"
        );
    }
    let q = &attempt["questions"][0];
    let feedback = invoke_with(
        &d.webview,
        "answer_question",
        serde_json::json!({ "answer": answer_for(q, true) }),
    )
    .unwrap();
    assert_eq!(feedback["correct"], true);
    assert!(
        feedback["explanation"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );
    let again = invoke_with(
        &d.webview,
        "answer_question",
        serde_json::json!({ "answer": answer_for(q, true) }),
    )
    .unwrap_err();
    assert_eq!(
        again["code"], "invalid-answer",
        "an answer cannot be changed after the feedback"
    );
}

#[test]
fn a_passed_attempt_certifies_and_a_failed_one_counts_down_to_the_lock() {
    let d = demo();
    let passed = take_quiz(&d.webview, true);
    assert_eq!(passed["passed"], true, "{passed}");
    assert_eq!(passed["scorePct"], 100.0);
    assert_eq!(passed["certification"]["status"], "passed");
    assert!(passed["certification"]["expiresAt"].is_string());

    let d = demo();
    let failed = take_quiz(&d.webview, false);
    assert_eq!(failed["passed"], false);
    assert_eq!(failed["certification"]["status"], "failed", "{failed}");
    assert!(failed["certification"]["attemptsLeft"].as_u64().unwrap() >= 1);

    let none = invoke(&d.webview, "submit_attempt").unwrap_err();
    assert_eq!(none["code"], "no-attempt");
}

#[test]
fn the_acknowledgement_needs_a_typed_name_and_is_then_signed() {
    let d = demo();
    let page = invoke(&d.webview, "get_acknowledgement").unwrap();
    assert_eq!(page["needsSignature"], true);
    assert!(page["signed"].is_null());
    let empty = invoke_with(
        &d.webview,
        "sign_acknowledgement",
        serde_json::json!({ "fullName": " " }),
    )
    .unwrap_err();
    assert_eq!(empty["code"], "name-required");
    let signed = invoke_with(
        &d.webview,
        "sign_acknowledgement",
        serde_json::json!({ "fullName": "Ada Lovelace" }),
    )
    .unwrap();
    assert_eq!(signed["needsSignature"], false);
    assert_eq!(signed["signed"]["fullName"], "Ada Lovelace");
}

/// Every object key anywhere in a JSON value.
fn collect_keys(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                collect_keys(v, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_keys(v, out)),
        _ => {}
    }
}

#[test]
fn an_org_policy_must_carry_the_org_signature() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::copy(examples.join("demo-policy.yaml"), &policy).unwrap();
    let key = examples.join("keys/DEMO-org-signing.pub.pem");

    let unsigned = crate::state::load_policy(Some(policy.clone()), Some(key.clone())).unwrap_err();
    assert_eq!(
        unsigned.code,
        ErrorCode::PolicyUnsigned,
        "{}",
        unsigned.message
    );
    assert!(
        unsigned.message.contains("not signed"),
        "the window says why: {}",
        unsigned.message
    );

    std::fs::copy(
        examples.join("demo-policy.yaml.sig"),
        dir.path().join("policy.yaml.sig"),
    )
    .unwrap();
    let signed = crate::state::load_policy(Some(policy.clone()), Some(key.clone())).unwrap();
    assert_eq!(signed.trust.label(), "signed");

    let altered = std::fs::read_to_string(&policy)
        .unwrap()
        .replace("minScorePct: 85", "minScorePct: 5");
    std::fs::write(&policy, altered).unwrap();
    let refused = crate::state::load_policy(Some(policy.clone()), Some(key)).unwrap_err();
    assert_eq!(refused.code, ErrorCode::PolicySignature);
    assert!(refused.message.contains("altered"), "{}", refused.message);

    let no_key = crate::state::load_policy(Some(policy), None).unwrap_err();
    assert!(
        no_key.message.contains("CERTGATE_ORG_KEY"),
        "{}",
        no_key.message
    );
    assert_eq!(
        crate::state::load_policy(None, None).unwrap().trust.label(),
        "demo"
    );
}

/// Enrolment in the app: a wrong code is refused with the reason and enrols nothing; the
/// right one enrols with a real org server on loopback and fetches its policy and course, and
/// the next start of the app runs on them (org mode).
#[test]
fn enrolling_fetches_the_org_content_that_the_next_start_runs_on() {
    use certgate_agent::demo::{self, DemoOrg};
    let service = format!(
        "certgate-app-test-{}",
        certgate_agent::random_hex(6).unwrap()
    );
    let Some(keys) = certgate_credentials::keystore::keystore_for_tests(&service) else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let org = rt
        .block_on(DemoOrg::start(&dir.path().join("org")))
        .unwrap();
    let (url, admin) = org.admin();
    let code = demo::enrolment_code(&url, &admin).unwrap();

    let device_dir = dir.path().join("device");
    std::fs::create_dir_all(device_dir.join("sysroot")).unwrap();
    let device = device::DeviceStore::new(device_dir.join("certgate.db"), Some(keys));
    let records = certgate_training::Records::new(
        certgate_store::Database::open(&device_dir.join("certgate.db")).unwrap(),
    )
    .unwrap();
    let state = state::AppState::for_tests(records, &device_dir.join("sysroot"));
    let (_app, webview) = app_with(with_state(mock_builder(), state, device.clone()));

    let err = invoke_with(
        &webview,
        "enroll_device",
        serde_json::json!({"server": url, "code": "WRONG-CODE-1"}),
    )
    .expect_err("an unknown code is refused");
    assert_eq!(err["code"], "enrolment", "{err}");
    assert!(device.org_content().unwrap().is_none(), "nothing enrolled");

    let view = invoke_with(
        &webview,
        "enroll_device",
        serde_json::json!({"server": url, "code": code}),
    )
    .unwrap();
    assert_eq!(view["serverUrl"], url.as_str());
    assert_eq!(view["userId"], demo::USER);
    assert_eq!(view["policyId"], "northwind-demo-external-ai-gate");
    assert_eq!(view["courseInstalled"], true);

    let next = state::AppState::load(&device);
    let enrolment = next
        .enrolment
        .as_ref()
        .expect("the next start is in org mode");
    assert_eq!(enrolment.server_url, url);
    let policy = next.policy().unwrap();
    assert!(
        policy.source.contains("org server"),
        "runs on the synced org policy: {}",
        policy.source
    );
    assert!(
        next.training
            .as_ref()
            .unwrap()
            .bundle
            .track(demo::TRACK)
            .is_some()
    );

    // Org mode's copilot access: the proxy fed by this enrolled device, forwarding to the
    // org's gateway from the managed configuration (here a mock model on loopback).
    let mock = rt
        .block_on(certgate_proxy::mock::start(
            ([127, 0, 0, 1], 0).into(),
            certgate_proxy::mock::MockOptions::default(),
        ))
        .unwrap();
    let org_device = |upstreams: &str| access::OrgDevice {
        enrolment: enrolment.clone(),
        device: device.clone(),
        upstreams: if upstreams.is_empty() {
            Vec::new()
        } else {
            certgate_managed::parse_model_upstreams(upstreams).unwrap()
        },
        port: 0,
    };
    let start = |org: access::OrgDevice| {
        let access = access::Access::default();
        let (policy, cache) = (
            next.shared_policy().unwrap(),
            next.posture().unwrap().cache.clone(),
        );
        rt.block_on(access.start(policy, cache, Some(org)));
        access
    };
    let access = start(org_device(&format!(
        "{}=http://{}",
        demo::REGION,
        mock.addr
    )));
    let view = access.view();
    assert_eq!(view.state, dto::AccessState::Blocked, "{view:?}");
    assert!(!view.demo);
    assert!(
        view.reasons.iter().any(|r| r.message.contains(demo::TRACK)),
        "not certified yet: {view:?}"
    );
    let (url, key) = (view.proxy_url.unwrap(), view.api_key.unwrap());
    certgate_credentials::client::install_tls_provider();
    let refused = reqwest::blocking::Client::new()
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "hello"}]}))
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    assert!(
        mock.state.requests().is_empty(),
        "nothing reached the model"
    );

    let unconfigured = start(org_device(""));
    let view = unconfigured.view();
    assert_eq!(view.state, dto::AccessState::Unavailable);
    assert!(
        view.notice
            .as_deref()
            .unwrap_or("")
            .contains("modelUpstreams"),
        "{view:?}"
    );
    drop(org);
}
