//! Who is calling: an enrolled device (`Authorization: Device <id>.<secret>`) or an admin
//! (`Authorization: Bearer <admin token>`). Secrets are compared by SHA-256, never logged.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use certgate_credentials::jws;
use certgate_credentials::wire::DEVICE_AUTH_SCHEME;
use certgate_store::rusqlite::{OptionalExtension, params};
use ed25519_dalek::VerifyingKey;

use crate::db::hash_secret;
use crate::error::Error;
use crate::state::AppState;

/// An authenticated, enrolled device.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    pub device_id: String,
    pub user_id: String,
    pub public_key: VerifyingKey,
}

/// An authenticated admin.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

fn authorization(parts: &Parts) -> Option<&str> {
    parts.headers.get(AUTHORIZATION)?.to_str().ok()
}

impl FromRequestParts<Arc<AppState>> for DeviceAuth {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let value =
            authorization(parts).ok_or(Error::Unauthorized("device credentials missing"))?;
        let rest = value
            .strip_prefix(DEVICE_AUTH_SCHEME)
            .and_then(|r| r.strip_prefix(' '))
            .ok_or(Error::Unauthorized(
                "expected `Authorization: Device <id>.<secret>`",
            ))?;
        let (device_id, secret) = rest.split_once('.').ok_or(Error::Unauthorized(
            "expected `Authorization: Device <id>.<secret>`",
        ))?;
        let db = state.db();
        let row: Option<(String, String, String)> = db
            .conn()
            .prepare_cached(
                "SELECT user_id, public_key, secret_hash FROM server_devices WHERE id = ?1",
            )?
            .query_row(params![device_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let Some((user_id, key, secret_hash)) = row else {
            return Err(Error::Unauthorized("unknown device"));
        };
        if hash_secret(secret) != secret_hash {
            return Err(Error::Unauthorized("wrong device secret"));
        }
        Ok(Self {
            device_id: device_id.to_owned(),
            user_id,
            public_key: jws::decode_public_key(&key)?,
        })
    }
}

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = authorization(parts)
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Error::Unauthorized("admin bearer token missing"))?;
        if hash_secret(token.trim()) == state.admin_token_hash {
            Ok(Self)
        } else {
            Err(Error::Unauthorized("wrong admin token"))
        }
    }
}
