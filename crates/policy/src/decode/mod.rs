//! The policy's YAML read into the typed model with [`crate::yaml`], collecting every problem.

mod policy;

use std::sync::Arc;

use cel::Env;

use crate::model::Policy;
use crate::rules::CompiledRule;
use crate::yaml::{self, Cx};

/// What the policy decoders share across sections.
pub(crate) struct PolicyState {
    /// Ids of the tracks decoded so far, for checking references to tracks.
    pub(crate) track_ids: Vec<String>,
    /// The environment conditions compile in, and the conditions compiled so far.
    pub(crate) env: Arc<Env>,
    pub(crate) rules: Vec<CompiledRule>,
}

pub(crate) type PolicyCx = Cx<PolicyState>;

/// The YAML text parsed and decoded, with the problems found on the way.
pub(crate) fn decode_text(text: &str, file: &str, env: Arc<Env>) -> (Option<Policy>, PolicyCx) {
    let mut cx = Cx::new(
        file,
        PolicyState {
            track_ids: Vec::new(),
            env,
            rules: Vec::new(),
        },
    );
    let policy =
        yaml::parse_document(text, &mut cx).and_then(|root| policy::decode_policy(&root, &mut cx));
    (policy, cx)
}
