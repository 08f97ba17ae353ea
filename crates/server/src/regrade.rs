//! Re-grading: the server scores every attempt itself, from the seed and raw answers, with its
//! own copy of the signed content bundle and the training crate's `plan_attempt` and `grade`
//! (the same functions the device used). The device's score is never trusted.

use std::collections::BTreeMap;

use certgate_credentials::wire::Grading;
use certgate_training::{Bundle, Response};
use serde::Deserialize;

use crate::error::{Error, Result};

/// xAPI `result.extensions` key holding the raw attempt (the training crate writes it).
pub const ATTEMPT_EXTENSION: &str = certgate_training::xapi::ATTEMPT_EXTENSION;

/// The raw attempt a device sends inside its statement. Only what re-grading needs is read;
/// the device's own figures (`drawCount`, `minScorePct`, `rawExact`…) are ignored, the server
/// takes them from its bundle and policy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptEvidence {
    pub track: String,
    /// Client id of the attempt (the lease names it for single-attempt tracks).
    pub attempt_id: String,
    /// The draw seed; a decimal string (exact in every JSON parser) or a number.
    #[serde(deserialize_with = "seed")]
    pub seed: u64,
    pub responses: Vec<Response>,
    /// Bundle version the device used; informative, the server grades with its own.
    #[serde(default)]
    pub bundle_version: Option<String>,
}

fn seed<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seed {
        Text(String),
        Number(u64),
    }
    match Seed::deserialize(d)? {
        Seed::Number(n) => Ok(n),
        Seed::Text(t) => t
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom("seed is not an unsigned 64-bit integer")),
    }
}

/// Scores an attempt. Implemented over the content bundle; tests may supply their own.
pub trait Regrader: Send + Sync {
    fn regrade(&self, attempt: &AttemptEvidence) -> crate::error::Result<Grading>;
}

/// Re-grades with the server's bundle and the policy's pass marks.
#[derive(Debug)]
pub struct BundleRegrader {
    bundle: Bundle,
    /// Track id → minScorePct.
    pass_marks: BTreeMap<String, f64>,
}

impl BundleRegrader {
    pub fn new(bundle: Bundle, policy: &certgate_policy::Policy) -> Self {
        let pass_marks = policy
            .training_requirements
            .certification_tracks
            .iter()
            .map(|t| (t.id.clone(), t.quiz.min_score_pct))
            .collect();
        Self { bundle, pass_marks }
    }
}

impl Regrader for BundleRegrader {
    fn regrade(&self, attempt: &AttemptEvidence) -> Result<Grading> {
        let track = self.bundle.track(&attempt.track).ok_or_else(|| {
            Error::Regrade(format!(
                "the server's content bundle has no question bank for track {}",
                attempt.track
            ))
        })?;
        let min = self.pass_marks.get(&attempt.track).ok_or_else(|| {
            Error::Regrade(format!("the policy defines no track {}", attempt.track))
        })?;
        let plan = certgate_training::plan_attempt(&track.bank, track.draw_count, attempt.seed);
        let score = certgate_training::grade(&track.bank, &plan, &attempt.responses, *min)
            .map_err(|e| Error::BadRequest(format!("attempt does not match its plan: {e}")))?;
        Ok(Grading {
            track: attempt.track.clone(),
            score_pct: score.pct,
            passed: score.passed,
        })
    }
}

/// Used when no bundle is configured: refuses to grade rather than trust the device.
#[derive(Debug, Default)]
pub struct NoBundle;

impl Regrader for NoBundle {
    fn regrade(&self, _: &AttemptEvidence) -> Result<Grading> {
        Err(Error::Regrade(
            "this server has no content bundle configured (`bundle` in the server config)".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> BundleRegrader {
        let policy = certgate_policy::demo::load().unwrap();
        let bundle = certgate_training::demo::bundle(&policy).unwrap();
        BundleRegrader::new(bundle, &policy.policy)
    }

    #[test]
    fn correct_answers_pass_and_wrong_ones_fail() {
        let r = demo();
        let policy = certgate_policy::demo::load().unwrap();
        let bundle = certgate_training::demo::bundle(&policy).unwrap();
        let t = bundle.track("AI_CONSUMER_EXTERNAL").unwrap();
        let plan = certgate_training::plan_attempt(&t.bank, t.draw_count, 7);
        let good = certgate_training::quiz::correct_responses(&t.bank, &plan);
        let mut attempt = AttemptEvidence {
            track: "AI_CONSUMER_EXTERNAL".into(),
            attempt_id: "a1".into(),
            seed: 7,
            responses: good,
            bundle_version: None,
        };
        let g = r.regrade(&attempt).unwrap();
        assert!(g.passed && (g.score_pct - 100.0).abs() < 1e-9);
        attempt.responses.truncate(1);
        let g = r.regrade(&attempt).unwrap();
        assert!(!g.passed, "one answer of many cannot pass");
        attempt.seed = 8;
        assert!(
            r.regrade(&attempt).is_err() || !r.regrade(&attempt).unwrap().passed,
            "answers for another seed's plan never pass"
        );
    }

    #[test]
    fn no_bundle_refuses_instead_of_trusting() {
        let a = AttemptEvidence {
            track: "T".into(),
            attempt_id: "a".into(),
            seed: 1,
            responses: vec![],
            bundle_version: None,
        };
        assert!(matches!(NoBundle.regrade(&a), Err(Error::Regrade(_))));
    }
}
