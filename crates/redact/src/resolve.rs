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
    // Accepted spans kept sorted by start; overlap test by binary search.
    let mut kept: Vec<Candidate> = Vec::with_capacity(cands.len());
    for c in cands {
        let i = kept.partition_point(|k| k.start < c.start);
        let clash_prev = i > 0 && kept[i - 1].end > c.start;
        let clash_next = i < kept.len() && kept[i].start < c.end;
        if !clash_prev && !clash_next {
            kept.insert(i, c);
        }
    }
    kept
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
            if glued || found.iter().any(|g| g.start < e && i < g.end) {
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
