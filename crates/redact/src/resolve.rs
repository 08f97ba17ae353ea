//! Overlap resolution: one deterministic pass so a rewrite never corrupts text.

use crate::finding::FindingType;

/// A detector hit before the policy assigns an action.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Candidate {
    pub kind: FindingType,
    pub detector: &'static str,
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
}

/// Keeps a non-overlapping subset: longest first, then most specific type, then highest
/// confidence, then earliest start, then detector id — a total order, so the result never
/// depends on detector run order. Returns the survivors sorted by start.
pub(crate) fn resolve(mut cands: Vec<Candidate>) -> Vec<Candidate> {
    cands.retain(|c| c.end > c.start);
    cands.sort_by(|a, b| {
        (b.end - b.start)
            .cmp(&(a.end - a.start))
            .then(b.kind.specificity().cmp(&a.kind.specificity()))
            .then(b.confidence.total_cmp(&a.confidence))
            .then(a.start.cmp(&b.start))
            .then(a.detector.cmp(b.detector))
    });
    // Accepted spans by start (unique: they never overlap and are never empty). A sorted
    // `Vec` with `insert` moved O(n²) bytes on large inputs.
    let mut kept: std::collections::BTreeMap<usize, Candidate> = std::collections::BTreeMap::new();
    for c in cands {
        let clash_prev = kept
            .range(..c.start)
            .next_back()
            .is_some_and(|(_, k)| k.end > c.start);
        let clash_next = kept
            .range(c.start..)
            .next()
            .is_some_and(|(_, k)| k.start < c.end);
        if !clash_prev && !clash_next {
            kept.insert(c.start, c);
        }
    }
    kept.into_values().collect()
}

/// A value detected once is covered everywhere it occurs: context rules ("id " before a
/// number, a neighbouring digit run) may skip one occurrence, but no detected value may
/// survive in the output.
pub(crate) fn cover_repeats(text: &str, found: Vec<Candidate>) -> Vec<Candidate> {
    if found.is_empty() {
        return found;
    }
    let b = text.as_bytes();
    let mut extra: Vec<Candidate> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for f in &found {
        let v = &text[f.start..f.end];
        if v.len() < 4 || seen.contains(&v) {
            continue;
        }
        seen.push(v);
        for (i, _) in text.match_indices(v) {
            let e = i + v.len();
            let glued = (i > 0 && b[i - 1].is_ascii_alphanumeric())
                || (e < b.len() && b[e].is_ascii_alphanumeric());
            // `found` is sorted and non-overlapping: only the last span starting before `e`
            // can reach past `i`.
            let j = found.partition_point(|g| g.start < e);
            if glued || (j > 0 && found[j - 1].end > i) {
                continue;
            }
            extra.push(Candidate {
                start: i,
                end: e,
                ..f.clone()
            });
        }
    }
    if extra.is_empty() {
        return found;
    }
    let mut all = found;
    all.extend(extra);
    resolve(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(kind: FindingType, start: usize, end: usize) -> Candidate {
        Candidate {
            kind,
            detector: "t",
            start,
            end,
            confidence: 0.9,
        }
    }

    #[test]
    fn longest_wins_then_specific_and_order_does_not_matter() {
        let a = c(FindingType::Phone, 0, 10);
        let b = c(FindingType::CreditCard, 0, 16);
        let d = c(FindingType::UsSsn, 20, 31);
        let e = c(FindingType::Phone, 20, 31);
        let f = c(FindingType::Person, 40, 45);
        let one = resolve(vec![a.clone(), b.clone(), d.clone(), e.clone(), f.clone()]);
        let two = resolve(vec![f, e, d, b, a]);
        assert_eq!(one, two, "resolution must not depend on input order");
        let kinds: Vec<_> = one.iter().map(|x| x.kind).collect();
        assert_eq!(
            kinds,
            vec![
                FindingType::CreditCard,
                FindingType::UsSsn,
                FindingType::Person
            ],
            "longest span wins; on equal spans the more specific type wins"
        );
        assert!(
            one.windows(2).all(|w| w[0].end <= w[1].start),
            "no overlaps, sorted"
        );
    }
}
