//! Evidence export: every audited event (completions with scores, certifications, token
//! issue and revocation, expiry, exceptions, IdP changes, enrolments) as CSV or JSON Lines,
//! then the proxy records devices uploaded (kind `proxy_request`, no server event id, the
//! record with the proxy's evidence columns as its detail).

use certgate_store::rusqlite::{Connection, params};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::db::ts;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "csv" => Ok(Self::Csv),
            "jsonl" | "json-lines" => Ok(Self::Jsonl),
            other => Err(Error::BadRequest(format!(
                "format {other:?} is not csv or jsonl"
            ))),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Jsonl => "application/jsonl",
        }
    }
}

/// Audit records at or after `since`, oldest first, then proxy records at or after `since`,
/// oldest first.
pub fn evidence(conn: &Connection, since: Option<DateTime<Utc>>, format: Format) -> Result<String> {
    let since = since.map(ts).unwrap_or_default();
    let mut stmt = conn.prepare(
        "SELECT id, at, kind, user_id, detail FROM server_audit WHERE at >= ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![since], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut out = String::new();
    if format == Format::Csv {
        out.push_str("id,at,kind,user_id,detail\n");
    }
    for row in rows {
        let (id, at, kind, user, detail) = row?;
        match format {
            Format::Jsonl => {
                let detail: Value = serde_json::from_str(&detail).unwrap_or(Value::String(detail));
                out.push_str(
                    &json!({"id": id, "at": at, "kind": kind, "userId": user, "detail": detail})
                        .to_string(),
                );
                out.push('\n');
            }
            Format::Csv => {
                let fields = [id.to_string(), at, kind, user.unwrap_or_default(), detail];
                let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                out.push_str(&line.join(","));
                out.push('\n');
            }
        }
    }
    for row in crate::evidence::export_rows(conn, &since)? {
        let kind = crate::evidence::EXPORT_KIND;
        match format {
            Format::Jsonl => {
                out.push_str(
                    &json!({"id": null, "at": row.at, "kind": kind, "userId": row.user_id,
                            "detail": row.detail})
                    .to_string(),
                );
                out.push('\n');
            }
            Format::Csv => {
                let fields = [
                    String::new(),
                    row.at,
                    kind.to_owned(),
                    row.user_id,
                    row.detail.to_string(),
                ];
                let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                out.push_str(&line.join(","));
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// RFC 4180 quoting; a leading `=`, `+`, `-` or `@` is prefixed with `'` so spreadsheets do
/// not run it as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
    }
}
