use proptest::prelude::*;

use super::*;
use crate::model::QuizOption;

fn option(id: &str, correct: bool) -> QuizOption {
    QuizOption {
        id: id.into(),
        text: format!("option {id}"),
        correct,
    }
}

fn options(correct: &[&str]) -> Vec<QuizOption> {
    ["a", "b", "c", "d", "e"]
        .iter()
        .map(|id| option(id, correct.contains(id)))
        .collect()
}

fn question(id: &str, kind: QuestionKind) -> Question {
    Question {
        id: id.into(),
        module: None,
        kind,
        scenario: None,
        prompt: format!("prompt {id}"),
        explanation: "because".into(),
    }
}

/// A bank of `n` questions cycling through every type.
fn bank(n: usize) -> QuestionBank {
    let questions = (0..n)
        .map(|i| {
            let id = format!("Q{i:02}");
            let kind = match i % 5 {
                0 => QuestionKind::Single {
                    options: options(&["b"]),
                },
                1 => QuestionKind::Multiple {
                    options: options(&["a", "c", "d"]),
                    scoring: Scoring::Partial,
                },
                2 => QuestionKind::TrueFalse { answer: i % 2 == 0 },
                3 => QuestionKind::Scenario {
                    options: options(&["e"]),
                },
                _ => QuestionKind::Multiple {
                    options: options(&["a", "b"]),
                    scoring: Scoring::AllOrNothing,
                },
            };
            question(&id, kind)
        })
        .collect();
    QuestionBank {
        track: "T".into(),
        version: "1".into(),
        questions,
    }
}

fn choose(ids: &[&str]) -> Choice {
    Choice::Options(ids.iter().map(|s| (*s).to_owned()).collect())
}

#[test]
fn a_plan_is_pinned_for_a_given_seed() {
    // If this fails, the draw algorithm changed: stored attempts can no longer be re-graded.
    let plan = plan_attempt(&bank(12), 4, 42);
    let ids: Vec<&str> = plan
        .questions
        .iter()
        .map(|q| q.question_id.as_str())
        .collect();
    let orders: Vec<String> = plan
        .questions
        .iter()
        .map(|q| q.option_order.concat())
        .collect();
    assert_eq!(ids, PINNED_IDS, "question draw for seed 42");
    assert_eq!(orders, PINNED_ORDERS, "option shuffles for seed 42");
    let mut rng = SplitMix64::new(0);
    assert_eq!(
        rng.next_u64(),
        0xE220_A839_7B1D_CDAF,
        "SplitMix64 reference value for seed 0"
    );
}

const PINNED_IDS: [&str; 4] = ["Q09", "Q06", "Q07", "Q10"];
const PINNED_ORDERS: [&str; 4] = ["daecb", "cdeba", "", "ecbad"];

#[test]
fn partial_credit_subtracts_wrong_picks_and_floors_at_zero() {
    let q = question(
        "M",
        QuestionKind::Multiple {
            options: options(&["a", "c", "d"]),
            scoring: Scoring::Partial,
        },
    );
    assert_eq!(credit(&q, &choose(&["a", "c", "d"])), Fraction::ONE);
    assert_eq!(credit(&q, &choose(&["a", "c"])), Fraction::new(2, 3));
    assert_eq!(credit(&q, &choose(&["a", "c", "b"])), Fraction::new(1, 3));
    assert_eq!(credit(&q, &choose(&["a", "b", "e"])), Fraction::ZERO);
    assert_eq!(
        credit(&q, &choose(&["a", "b", "c", "d", "e"])),
        Fraction::new(1, 3),
        "picking everything is not full credit"
    );
    assert_eq!(
        credit(&q, &choose(&["a", "zz"])),
        Fraction::ZERO,
        "unknown ids are wrong picks"
    );
    let all_or_nothing = question(
        "N",
        QuestionKind::Multiple {
            options: options(&["a", "b"]),
            scoring: Scoring::AllOrNothing,
        },
    );
    assert_eq!(credit(&all_or_nothing, &choose(&["b", "a"])), Fraction::ONE);
    assert_eq!(credit(&all_or_nothing, &choose(&["a"])), Fraction::ZERO);
    let single = question(
        "S",
        QuestionKind::Single {
            options: options(&["b"]),
        },
    );
    assert_eq!(credit(&single, &choose(&["b"])), Fraction::ONE);
    assert_eq!(credit(&single, &choose(&["b", "a"])), Fraction::ZERO);
    assert_eq!(credit(&single, &Choice::Bool(true)), Fraction::ZERO);
    let tf = question("T", QuestionKind::TrueFalse { answer: false });
    assert_eq!(credit(&tf, &Choice::Bool(false)), Fraction::ONE);
    assert_eq!(credit(&tf, &Choice::Bool(true)), Fraction::ZERO);
}

#[test]
fn pass_boundaries_are_exact() {
    assert!(
        !meets_pass_mark(Fraction::new(8499, 100), 100, 85.0),
        "84.99% fails at 85"
    );
    assert!(
        meets_pass_mark(Fraction::new(85, 1), 100, 85.0),
        "85.00% passes at 85"
    );
    assert!(
        meets_pass_mark(Fraction::new(17, 1), 20, 85.0),
        "17/20 is exactly 85%"
    );
    assert!(
        !meets_pass_mark(Fraction::new(169, 10), 20, 85.0),
        "16.9/20 is 84.5%"
    );
    assert!(meets_pass_mark(Fraction::new(8499, 1), 10_000, 84.99));
    assert!(!meets_pass_mark(Fraction::new(8498, 1), 10_000, 84.99));
    // 1/3 of 100%: 33.33...% passes 33.33 and fails 33.34.
    assert!(meets_pass_mark(Fraction::new(1, 3), 1, 33.33));
    assert!(!meets_pass_mark(Fraction::new(1, 3), 1, 33.34));
    assert!(meets_pass_mark(Fraction::ZERO, 10, 0.0));
}

#[test]
fn grading_sums_exactly_and_rejects_foreign_answers() {
    let bank = bank(15);
    let plan = plan_attempt(&bank, 5, 7);
    let mut responses = correct_responses(&bank, &plan);
    let score = grade(&bank, &plan, &responses, 100.0).unwrap();
    assert_eq!(
        (score.raw, score.max, score.passed),
        (Fraction::new(5, 1), 5, true)
    );
    responses.pop();
    let score = grade(&bank, &plan, &responses, 80.0).unwrap();
    assert_eq!(
        score.raw,
        Fraction::new(4, 1),
        "an unanswered question scores 0"
    );
    assert!(score.passed, "4/5 is exactly 80%");
    assert_eq!(score.pct, 80.0);
    let drawn: Vec<&str> = plan
        .questions
        .iter()
        .map(|q| q.question_id.as_str())
        .collect();
    let outsider = bank
        .questions
        .iter()
        .find(|q| !drawn.contains(&q.id.as_str()))
        .unwrap();
    responses.push(Response {
        question_id: outsider.id.clone(),
        choice: Choice::Bool(true),
    });
    assert_eq!(
        grade(&bank, &plan, &responses, 80.0),
        Err(GradeError::NotInPlan(outsider.id.clone()))
    );
}

#[test]
fn typed_answers_map_displayed_letters_to_option_ids() {
    let bank = bank(10);
    let plan = plan_attempt(&bank, 10, 3);
    for planned in &plan.questions {
        let q = bank.question(&planned.question_id).unwrap();
        let typed = planned.correct_letters(q);
        let choice = planned.parse_answer(q, &typed).unwrap();
        assert_eq!(credit(q, &choice), Fraction::ONE, "{typed} for {}", q.id);
        match q.kind {
            QuestionKind::TrueFalse { .. } => {
                assert_eq!(planned.parse_answer(q, "b"), Err(AnswerError::NotBool));
            }
            QuestionKind::Multiple { .. } => {
                assert!(planned.parse_answer(q, "a, c").is_ok());
                assert_eq!(planned.parse_answer(q, ""), Err(AnswerError::Empty));
            }
            _ => {
                assert_eq!(planned.parse_answer(q, "a,b"), Err(AnswerError::OneChoice));
                assert_eq!(
                    planned.parse_answer(q, "z"),
                    Err(AnswerError::UnknownLetter("z".into()))
                );
            }
        }
    }
}

proptest! {
    #[test]
    fn the_same_seed_gives_the_same_plan(seed in any::<u64>(), n in 1usize..40, draw in 0u32..45) {
        let bank = bank(n);
        prop_assert_eq!(plan_attempt(&bank, draw, seed), plan_attempt(&bank, draw, seed));
    }

    #[test]
    fn a_plan_never_repeats_a_question_and_shuffles_are_permutations(
        seed in any::<u64>(), n in 1usize..40, draw in 0u32..45
    ) {
        let bank = bank(n);
        let plan = plan_attempt(&bank, draw, seed);
        prop_assert_eq!(plan.questions.len(), (draw as usize).min(n));
        let mut ids: Vec<&str> = plan.questions.iter().map(|q| q.question_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        prop_assert_eq!(ids.len(), plan.questions.len(), "no question twice");
        for planned in &plan.questions {
            let q = bank.question(&planned.question_id).unwrap();
            let mut shown = planned.option_order.clone();
            shown.sort();
            let mut original: Vec<String> = q.options().iter().map(|o| o.id.clone()).collect();
            original.sort();
            prop_assert_eq!(shown, original, "the options shown are a permutation");
        }
    }

    #[test]
    fn all_correct_answers_pass_at_any_mark(
        seed in any::<u64>(), n in 1usize..40, draw in 1u32..45, mark in 0.0f64..=100.0
    ) {
        let bank = bank(n);
        let plan = plan_attempt(&bank, draw, seed);
        let score = grade(&bank, &plan, &correct_responses(&bank, &plan), mark).unwrap();
        prop_assert!(score.passed);
        prop_assert_eq!(score.raw, Fraction::new(score.max, 1));
    }

    #[test]
    fn scores_stay_between_zero_and_max(
        seed in any::<u64>(), picks in proptest::collection::vec(0u8..32, 10)
    ) {
        let bank = bank(20);
        let plan = plan_attempt(&bank, 10, seed);
        let responses: Vec<Response> = plan.questions.iter().zip(&picks).map(|(p, bits)| {
            let choice = if p.option_order.is_empty() {
                Choice::Bool(bits & 1 == 1)
            } else {
                Choice::Options(p.option_order.iter().enumerate()
                    .filter(|(i, _)| bits & (1 << i) != 0).map(|(_, id)| id.clone()).collect())
            };
            Response { question_id: p.question_id.clone(), choice }
        }).collect();
        let score = grade(&bank, &plan, &responses, 50.0).unwrap();
        prop_assert!(score.raw.num <= score.max * score.raw.den);
        prop_assert!((0.0..=100.0).contains(&score.pct));
    }
}
