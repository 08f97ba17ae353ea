//! Exception requests from this device: filed with the justification fields the policy names,
//! then followed until every required approver role has approved. The grant itself reaches the
//! gate through the sync (see [`crate::feed`]). Blocking: call these off the async threads.

use std::path::Path;

use certgate_credentials::wire::{ExceptionRequest, ExceptionStatus};
use certgate_credentials::{Device, Keystore};
use certgate_store::Database;

use crate::error::{Error, Result};

fn device(db: &Path, keys: &Keystore) -> Result<Device> {
    let mut db = Database::open(db)?;
    Ok(Device::load(&mut db, keys)?)
}

fn answer(what: &'static str, resp: reqwest::blocking::Response) -> Result<ExceptionStatus> {
    resp.json().map_err(|e| Error::Protocol {
        what,
        reason: e.to_string(),
    })
}

/// Files a request; the server refuses one that misses a field or asks for too long, with
/// every reason.
pub fn request(db: &Path, keys: &Keystore, req: &ExceptionRequest) -> Result<ExceptionStatus> {
    let device = device(db, keys)?;
    let resp = device.client.send("the exception request", &|| {
        device.client.post("/v1/exceptions").json(req)
    })?;
    answer("the exception request's answer", resp)
}

/// Where a request stands: approvals so far and the roles still missing.
pub fn status(db: &Path, keys: &Keystore, id: &str) -> Result<ExceptionStatus> {
    let device = device(db, keys)?;
    let path = format!("/v1/exceptions/{id}");
    let resp = device
        .client
        .send("the exception status", &|| device.client.get(&path))?;
    answer("the exception status", resp)
}
