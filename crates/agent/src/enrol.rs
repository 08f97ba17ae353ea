//! Enrolment as the organisation's managed configuration allows it: the server must be the
//! managed one (when IT set one), and the server's org key must be the pinned one — checked
//! before the one-time code is sent, so a wrong server never consumes it. The CLI and the app
//! enrol through here.

use std::path::Path;

use certgate_credentials::client::Client;
use certgate_credentials::metadata::Enrolment;
use certgate_credentials::wire::KeysResponse;
use certgate_credentials::{Keystore, device};
use certgate_managed::{Managed, ServerUrl};
use certgate_store::Database;
use chrono::Utc;

use crate::error::{Error, Result};

/// Enrols this device (key in `keys`, enrolment in the database at `db`) with `server` using
/// the one-time `code`. Blocking: call it off the async threads.
pub fn enrol(
    managed: &Managed,
    db: &Path,
    keys: &Keystore,
    server: &str,
    code: &str,
) -> Result<Enrolment> {
    let url = ServerUrl::parse(server)?;
    managed.check_server(&url)?;
    let client = Client::new(url.as_str())?;
    let served: KeysResponse = client
        .send("the org keys", &|| client.get("/v1/keys"))?
        .json()
        .map_err(|e| Error::Protocol {
            what: "the org keys",
            reason: e.to_string(),
        })?;
    managed.check_org_key(&served.policy_key_pem)?;
    let mut db = Database::open(db)?;
    let enrolment = device::enroll(&mut db, keys, url.as_str(), code, Utc::now())?;
    // The enrolment pinned the key the server named then; it must still be the org's.
    managed.check_org_key(&enrolment.policy_key_pem)?;
    Ok(enrolment)
}
