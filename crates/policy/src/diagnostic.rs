//! Problems found in a policy file, each with its place (file, line, column, field path) and the
//! fix, so an author can correct every one of them in a single pass.

use std::fmt;

use serde::Serialize;

/// Where a value sits in the file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Dotted field path, e.g. `trainingRequirements.certificationTracks[0].quiz.minScorePct`.
    pub path: String,
    pub message: String,
    /// What to change to make it right.
    pub fix: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "(document)"
        } else {
            &self.path
        };
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.column, path, self.message
        )?;
        if let Some(fix) = &self.fix {
            write!(f, "\n    fix: {fix}")?;
        }
        Ok(())
    }
}

/// Every problem found in one file, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    pub(crate) fn sort(&mut self) {
        self.0
            .sort_by(|a, b| (a.line, a.column, &a.path).cmp(&(b.line, b.column, &b.path)));
        self.0.dedup();
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Collects diagnostics for one file while it is decoded and validated.
#[derive(Debug)]
pub(crate) struct Report {
    file: String,
    found: Vec<Diagnostic>,
}

impl Report {
    pub(crate) fn new(file: &str) -> Self {
        Self {
            file: file.to_owned(),
            found: Vec::new(),
        }
    }

    pub(crate) fn error_fix(
        &mut self,
        at: Location,
        path: &str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.push(at, path, message.into(), Some(fix.into()));
    }

    fn push(&mut self, at: Location, path: &str, message: String, fix: Option<String>) {
        self.found.push(Diagnostic {
            file: self.file.clone(),
            line: at.line,
            column: at.column,
            path: path.to_owned(),
            message,
            fix,
        });
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.found.is_empty()
    }

    pub(crate) fn into_diagnostics(self) -> Diagnostics {
        let mut all = Diagnostics(self.found);
        all.sort();
        all
    }
}

/// The closest candidate to a misspelt name, when one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let wrong_lower = wrong.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let score = strsim::jaro_winkler(&wrong_lower, &c.to_ascii_lowercase());
            (score, c)
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["regionsAllowed", "populations", "tools"];
        assert_eq!(did_you_mean("regionAllowed", keys), Some("regionsAllowed"));
        assert_eq!(did_you_mean("populatons", keys), Some("populations"));
        assert_eq!(did_you_mean("zzz", keys), None, "no wild guesses");
    }

    #[test]
    fn display_names_place_path_and_fix() {
        let mut report = Report::new("p.yaml");
        report.error_fix(
            Location { line: 3, column: 5 },
            "scope.tools",
            "bad",
            "do this",
        );
        let text = report.into_diagnostics().to_string();
        assert_eq!(text, "p.yaml:3:5: scope.tools: bad\n    fix: do this");
    }
}
