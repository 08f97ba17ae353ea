//! Errors as HTTP responses in the client API's own error shape, so the SDKs show our message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Which API's error format to answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    OpenAi,
    Anthropic,
}

impl Shape {
    pub fn for_path(path: &str) -> Self {
        if path.starts_with("/v1/messages") {
            Self::Anthropic
        } else {
            Self::OpenAi
        }
    }
}

/// An error response. `kind` is the API's error type; `extra` fields join the error object.
pub fn error(
    shape: Shape,
    status: StatusCode,
    kind: &str,
    message: &str,
    extra: Option<Value>,
) -> Response {
    let mut inner = match shape {
        Shape::OpenAi => json!({"message": message, "type": kind, "param": null, "code": kind}),
        Shape::Anthropic => json!({"type": kind, "message": message}),
    };
    if let (Some(Value::Object(extra)), Some(obj)) = (extra, inner.as_object_mut()) {
        obj.extend(extra);
    }
    let body = match shape {
        Shape::OpenAi => json!({"error": inner}),
        Shape::Anthropic => json!({"type": "error", "error": inner}),
    };
    (status, Json(body)).into_response()
}

/// The error type name per status, per API.
pub fn kind(shape: Shape, status: StatusCode) -> &'static str {
    match (shape, status.as_u16()) {
        (Shape::Anthropic, 401) => "authentication_error",
        (Shape::OpenAi, 401) => "invalid_api_key",
        (_, 403) => "permission_error",
        (_, 404) => "not_found_error",
        (_, 413) => "request_too_large",
        (_, 422) => "sensitive_data_blocked",
        (_, 504) => "timeout_error",
        (_, 500..) => "api_error",
        _ => "invalid_request_error",
    }
}

/// Shorthand: the usual kind for this status.
pub fn status(shape: Shape, status: StatusCode, message: &str) -> Response {
    error(shape, status, kind(shape, status), message, None)
}
