//! Enrolment links: `certgate://enroll?server=<url>&code=<one-time code>`, sent in the
//! onboarding email and opened by the app (Tauri deep-link plugin) on the enrolment step with
//! both fields filled. Parsed strictly — the link comes from outside — and never echoed back
//! with its code.

use std::fmt;

use crate::error::{CodeProblem, LinkError};
use crate::server::ServerUrl;

/// The URL scheme the app registers (tauri.conf.json `plugins.deep-link.desktop.schemes`).
pub const SCHEME: &str = "certgate";

const PREFIX: &str = "certgate://enroll";

/// Longer links are refused before any parsing.
pub const MAX_LINK_LEN: usize = 2048;

/// Code length bounds. The server issues 20 characters (15 random bytes, base64url).
pub const CODE_MIN: usize = 16;
pub const CODE_MAX: usize = 64;

/// A one-time enrolment code. A secret until used: Debug never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrolmentCode(String);

impl EnrolmentCode {
    pub fn parse(text: &str) -> Result<Self, CodeProblem> {
        let len = text.chars().count();
        if len < CODE_MIN {
            return Err(CodeProblem::TooShort { len, min: CODE_MIN });
        }
        if len > CODE_MAX {
            return Err(CodeProblem::TooLong { len, max: CODE_MAX });
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(CodeProblem::Charset);
        }
        Ok(Self(text.to_owned()))
    }

    /// The code itself, to send to the server (and fill in the form). Nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EnrolmentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnrolmentCode(<redacted>)")
    }
}

/// A parsed enrolment link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentLink {
    server: ServerUrl,
    code: EnrolmentCode,
}

impl EnrolmentLink {
    /// A link from its parts (checked as a link's would be).
    pub fn new(server: &str, code: &str) -> Result<Self, LinkError> {
        Ok(Self {
            server: ServerUrl::parse(server)?,
            code: EnrolmentCode::parse(code).map_err(LinkError::Code)?,
        })
    }

    /// Parses `certgate://enroll?server=…&code=…` (scheme and host in any case, an optional
    /// `/` before `?`, parameters in any order, percent-encoding decoded strictly).
    pub fn parse(link: &str) -> Result<Self, LinkError> {
        let link = link.trim();
        if link.len() > MAX_LINK_LEN {
            return Err(LinkError::TooLong { max: MAX_LINK_LEN });
        }
        let rest = link
            .get(..PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(PREFIX))
            .and_then(|_| link.get(PREFIX.len()..))
            .ok_or(LinkError::NotEnrolment)?;
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let query = rest.strip_prefix('?').ok_or(LinkError::NotEnrolment)?;
        if query.contains('#') {
            return Err(LinkError::Fragment);
        }
        let mut server = None;
        let mut code = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode(name).ok_or_else(|| LinkError::Encoding {
                param: "parameter name".to_owned(),
            })?;
            let (slot, param) = match name.as_str() {
                "server" => (&mut server, "server"),
                "code" => (&mut code, "code"),
                _ => {
                    return Err(LinkError::Unknown {
                        param: shown(&name),
                    });
                }
            };
            if slot.is_some() {
                return Err(LinkError::Duplicate { param });
            }
            let value = percent_decode(value).ok_or(LinkError::Encoding {
                param: param.to_owned(),
            })?;
            *slot = Some(value);
        }
        let server = server.ok_or(LinkError::Missing { param: "server" })?;
        let code = code.ok_or(LinkError::Missing { param: "code" })?;
        Ok(Self {
            server: ServerUrl::parse(&server)?,
            code: EnrolmentCode::parse(&code).map_err(LinkError::Code)?,
        })
    }

    pub fn server(&self) -> &ServerUrl {
        &self.server
    }

    pub fn code(&self) -> &EnrolmentCode {
        &self.code
    }

    /// The link text, for the onboarding email (contains the code).
    pub fn to_url(&self) -> String {
        format!(
            "{PREFIX}?server={}&code={}",
            percent_encode(self.server.as_str()),
            percent_encode(self.code.expose())
        )
    }
}

/// A parameter name fit to quote in a message: at most 32 printable ASCII characters.
fn shown(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect()
}

/// Strict percent-decoding: every `%` must start two hex digits; the result must be UTF-8.
/// `+` stays `+` (these are URLs, not HTML form posts).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::ServerUrlError;
    use proptest::prelude::*;

    const CODE: &str = "Xq3_9-abcdEFGHijklmn";

    #[test]
    fn a_link_from_the_onboarding_email_parses() {
        let link = EnrolmentLink::parse(
            "certgate://enroll?server=https%3A%2F%2Fcertgate.example.org%2F&code=Xq3_9-abcdEFGHijklmn",
        )
        .unwrap();
        assert_eq!(link.server().as_str(), "https://certgate.example.org");
        assert_eq!(link.code().expose(), CODE);
    }

    #[test]
    fn order_case_slash_and_unencoded_urls_are_accepted() {
        for text in [
            "CERTGATE://Enroll/?code=Xq3_9-abcdEFGHijklmn&server=https://certgate.example.org",
            "  certgate://enroll?server=https://certgate.example.org&code=Xq3_9-abcdEFGHijklmn&\n",
            "certgate://enroll?server=http%3A%2F%2F127.0.0.1%3A7700&code=Xq3_9-abcdEFGHijklmn",
        ] {
            assert!(EnrolmentLink::parse(text).is_ok(), "{text}");
        }
    }

    #[test]
    fn bad_links_are_refused_with_the_reason() {
        let cases: [(&str, LinkError); 10] = [
            ("https://certgate.example.org", LinkError::NotEnrolment),
            ("certgate://enrollment?server=x", LinkError::NotEnrolment),
            ("certgate://enroll", LinkError::NotEnrolment),
            (
                "certgate://enroll?server=https://a.example&code=Xq3_9-abcdEFGHijklmn#x",
                LinkError::Fragment,
            ),
            (
                "certgate://enroll?code=Xq3_9-abcdEFGHijklmn",
                LinkError::Missing { param: "server" },
            ),
            (
                "certgate://enroll?server=https://a.example",
                LinkError::Missing { param: "code" },
            ),
            (
                "certgate://enroll?server=https://a.example&server=https://b.example&code=Xq3_9-abcdEFGHijklmn",
                LinkError::Duplicate { param: "server" },
            ),
            (
                "certgate://enroll?server=https://a.example&code=Xq3_9-abcdEFGHijklmn&next=evil",
                LinkError::Unknown {
                    param: "next".into(),
                },
            ),
            (
                "certgate://enroll?server=http://certgate.example.org&code=Xq3_9-abcdEFGHijklmn",
                LinkError::Server(ServerUrlError::InsecureHttp),
            ),
            (
                "certgate://enroll?server=https://a.example&code=%ZZ",
                LinkError::Encoding {
                    param: "code".into(),
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(EnrolmentLink::parse(text), Err(want), "{text}");
        }
        assert_eq!(
            EnrolmentLink::parse(&format!("certgate://enroll?{}", "a".repeat(MAX_LINK_LEN))),
            Err(LinkError::TooLong { max: MAX_LINK_LEN })
        );
    }

    #[test]
    fn codes_are_checked_and_never_shown() {
        let short = "certgate://enroll?server=https://a.example&code=abc";
        let err = EnrolmentLink::parse(short).unwrap_err();
        assert_eq!(
            err,
            LinkError::Code(CodeProblem::TooShort { len: 3, min: 16 })
        );
        let spaced = "certgate://enroll?server=https://a.example&code=Xq3_9-abcd%20FGHijklmn";
        let err = EnrolmentLink::parse(spaced).unwrap_err();
        assert_eq!(err, LinkError::Code(CodeProblem::Charset));
        assert!(
            !err.to_string().contains("Xq3"),
            "errors never quote the code"
        );
        let link = EnrolmentLink::new("https://a.example", CODE).unwrap();
        let debug = format!("{link:?}");
        assert!(!debug.contains(CODE), "Debug hides the code: {debug}");
        assert!(debug.contains("<redacted>"));
    }

    #[test]
    fn a_built_link_reads_back() {
        let link = EnrolmentLink::new("http://localhost:7700", CODE).unwrap();
        assert_eq!(
            link.to_url(),
            "certgate://enroll?server=http%3A%2F%2Flocalhost%3A7700&code=Xq3_9-abcdEFGHijklmn"
        );
        assert_eq!(EnrolmentLink::parse(&link.to_url()).unwrap(), link);
    }

    proptest! {
        #[test]
        fn no_input_panics(text in "\\PC*") {
            let _ = EnrolmentLink::parse(&text);
        }

        #[test]
        fn no_query_panics(query in "[a-z%=&0-9A-F:/#?.\\-_ é]*") {
            if let Ok(link) = EnrolmentLink::parse(&format!("certgate://enroll?{query}")) {
                let s = link.server().as_str();
                prop_assert!(s.starts_with("https://") || s.starts_with("http://"));
            }
        }

        #[test]
        fn valid_links_round_trip(
            host in "[a-z]{1,12}(\\.[a-z]{2,6}){1,2}",
            port in proptest::option::of(1u16..),
            path in "(/[a-z0-9]{1,8}){0,2}",
            code in "[A-Za-z0-9_-]{16,64}",
        ) {
            let server = match port {
                Some(p) => format!("https://{host}:{p}{path}"),
                None => format!("https://{host}{path}"),
            };
            let link = EnrolmentLink::new(&server, &code).unwrap();
            prop_assert_eq!(EnrolmentLink::parse(&link.to_url()).unwrap(), link);
        }

        #[test]
        fn percent_coding_round_trips(text in "\\PC*") {
            prop_assert_eq!(percent_decode(&percent_encode(&text)), Some(text));
        }
    }
}
