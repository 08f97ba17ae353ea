//! `certgate://enroll?server=…&code=…` links from the onboarding e-mail: parsed strictly,
//! checked against the managed configuration, and handed to the enrolment step of the window
//! (never logged with their code).

use std::sync::Mutex;

use certgate_managed::{EnrolmentLink, Managed};
use tauri::{AppHandle, Emitter, Manager, Runtime};

use crate::dto::EnrolmentLinkView;

/// Event the window listens to: a link arrived, take it with `take_enrolment_link`.
pub const LINK_EVENT: &str = "enrolment-link";

/// The last link received, until the enrolment step takes it.
#[derive(Debug, Default)]
pub struct PendingLink(Mutex<Option<EnrolmentLinkView>>);

impl PendingLink {
    pub fn take(&self) -> Option<EnrolmentLinkView> {
        self.0.lock().ok().and_then(|mut l| l.take())
    }

    fn put(&self, view: EnrolmentLinkView) {
        if let Ok(mut l) = self.0.lock() {
            *l = Some(view);
        }
    }
}

/// What the enrolment step shows for `url`: both fields, or why the link was refused.
pub fn view(url: &str, managed: &Managed) -> EnrolmentLinkView {
    let refused = |reason: String| EnrolmentLinkView {
        server: None,
        code: None,
        refused: Some(reason),
    };
    match EnrolmentLink::parse(url) {
        Err(e) => refused(format!("this enrolment link cannot be used: {e}")),
        Ok(link) => match managed.check_link(&link) {
            Err(e) => refused(e.to_string()),
            Ok(()) => EnrolmentLinkView {
                server: Some(link.server().as_str().to_owned()),
                code: Some(link.code().expose().to_owned()),
                refused: None,
            },
        },
    }
}

/// Opens the enrolment step with what `urls` hold (the first `certgate://` one).
pub fn receive<R: Runtime>(app: &AppHandle<R>, urls: impl IntoIterator<Item = impl ToString>) {
    let Some(url) = urls
        .into_iter()
        .map(|u| u.to_string())
        .find(|u| u.to_ascii_lowercase().starts_with("certgate:"))
    else {
        return;
    };
    let view = view(&url, app.state::<crate::settings::Settings>().managed());
    match &view.refused {
        Some(reason) => tracing::warn!(%reason, "enrolment link refused"),
        None => tracing::info!(server = ?view.server, "enrolment link received"),
    }
    app.state::<PendingLink>().put(view);
    crate::tray::open_screen(app, "onboarding");
    if let Err(err) = app.emit(LINK_EVENT, ()) {
        tracing::warn!(%err, "cannot tell the window about the enrolment link");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = "AbCdEfGhIjKlMnOpQrSt";

    fn managed(toml: &str) -> Managed {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("managed.toml");
        std::fs::write(&path, toml).unwrap();
        certgate_managed::read_file(&path)
    }

    #[test]
    fn a_link_fills_both_fields_unless_the_managed_server_is_another() {
        let link =
            format!("certgate://enroll?server=https%3A%2F%2Fcertgate.acme.example&code={CODE}");
        let open = Managed::Absent {
            looked_at: "/etc/certgate/managed.toml".into(),
        };
        let v = view(&link, &open);
        assert_eq!(v.server.as_deref(), Some("https://certgate.acme.example"));
        assert_eq!(v.code.as_deref(), Some(CODE));
        assert_eq!(v.refused, None);

        let pinned = managed("serverUrl = \"https://certgate.other.example\"\n");
        let v = view(&link, &pinned);
        assert_eq!(
            (v.server, v.code),
            (None, None),
            "a refused link fills nothing"
        );
        let reason = v.refused.unwrap();
        assert!(reason.contains("certgate.other.example"), "{reason}");
        assert!(!reason.contains(CODE), "the code is never echoed: {reason}");

        let v = view("certgate://enroll?server=https://x.example", &open);
        assert!(v.refused.unwrap().contains("cannot be used"));
    }
}
