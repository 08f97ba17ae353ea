use super::*;
use crate::config::Sensitive;
use axum::http::Request as HttpRequest;
use tower::ServiceExt;

fn app() -> (Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = certgate_store::Database::open(&dir.path().join("certgate.db")).unwrap();
    let (_tx, snapshot) = watch::channel(GateSnapshot::default());
    let (events, _) = broadcast::channel(8);
    let deps = Deps {
        policy: PolicySlot::new(Arc::new(certgate_policy::demo::load().unwrap())).unwrap(),
        snapshot,
        keys: watch::channel(vec![ClientKey {
            key: Sensitive::new("k1".to_owned()),
            label: "developer-sdk".into(),
        }])
        .1,
        audit: AuditLog::open(db, 365).unwrap(),
        events,
    };
    (router(ProxyConfig::default(), deps).unwrap(), dir)
}

fn req(method: &str, path: &str, key: Option<&str>) -> axum::http::request::Builder {
    let b = HttpRequest::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:8787");
    match key {
        Some(k) => b.header("authorization", format!("Bearer {k}")),
        None => b,
    }
}

async fn body_json(resp: Response) -> Value {
    let b = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    serde_json::from_slice(&b).unwrap()
}

#[tokio::test]
async fn unknown_route_is_404_json_with_request_id() {
    let (app, _d) = app();
    let resp = app
        .oneshot(
            req("GET", "/v2/nope", Some("k1"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(resp.headers().contains_key(REQUEST_ID));
    let v = body_json(resp).await;
    assert_eq!(v["error"]["type"], "not_found_error");
}

#[tokio::test]
async fn missing_or_wrong_key_is_401_in_each_apis_shape() {
    let (app, _d) = app();
    let resp = app
        .clone()
        .oneshot(
            req("POST", "/v1/messages", None)
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let v = body_json(resp).await;
    assert_eq!(v["type"], "error", "Anthropic error shape");
    assert_eq!(v["error"]["type"], "authentication_error");
    let resp = app
        .oneshot(
            req("POST", "/v1/chat/completions", Some("k2"))
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(body_json(resp).await["error"]["message"].is_string());
}

#[tokio::test]
async fn host_and_origin_checked_before_anything() {
    let (app, _d) = app();
    let resp = app
        .clone()
        .oneshot(
            HttpRequest::builder()
                .uri("/v1/models")
                .header("host", "attacker.example:8787")
                .header("authorization", "Bearer k1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "DNS rebinding");
    let resp = app
        .oneshot(
            req("GET", "/v1/models", Some("k1"))
                .header("origin", "https://evil.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(
        loopback_host("localhost:1") && loopback_host("[::1]:80") && loopback_host("127.0.0.9")
    );
    assert!(!loopback_host("127.0.0.1.evil.example") && !loopback_host("10.0.0.1:80"));
}

#[tokio::test]
async fn a_panic_becomes_a_500() {
    let (app, _d) = app();
    let resp = app
        .oneshot(
            req("POST", "/v1/__test/panic", Some("k1"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body_json(resp).await["error"]["type"], "api_error");
}

#[tokio::test]
async fn denied_without_posture_shows_every_reason() {
    let (app, _d) = app();
    let resp = app
        .oneshot(
            req("POST", "/v1/chat/completions", Some("k1"))
                .body(Body::from(r#"{"model":"m","messages":[]}"#))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let v = body_json(resp).await;
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("no device posture"), "{msg}");
    assert!(v["error"]["reasons"].as_array().unwrap().len() >= 2);
}
