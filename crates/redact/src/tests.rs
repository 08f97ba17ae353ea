//! Behaviour of the whole engine through the public API.

use super::*;

fn redactor() -> Redactor {
    Redactor::new(RedactorConfig::default()).unwrap()
}

fn kinds(r: &Redactor, text: &str) -> Vec<(FindingType, String)> {
    r.scan(text)
        .into_iter()
        .map(|f| (f.kind, text[f.start..f.end].to_owned()))
        .collect()
}

fn persons(r: &Redactor, text: &str) -> Vec<String> {
    kinds(r, text)
        .into_iter()
        .filter(|(k, _)| *k == FindingType::Person)
        .map(|(_, v)| v)
        .collect()
}

#[test]
fn redactor_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Redactor>();
    check::<Vault>();
}

#[test]
fn finds_validated_pii() {
    let r = redactor();
    let text = "Card 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32, SSN 523-11-8386, \
                ip 203.0.113.9 and 2001:db8::8a2e:370:7334, mac 00:1A:2B:3C:4D:5E, \
                call +1 202-555-0173 or mail ann@example.org";
    let got = kinds(&r, text);
    let want = [
        (FindingType::CreditCard, "4111 1111 1111 1111"),
        (FindingType::Iban, "GB82 WEST 1234 5698 7654 32"),
        (FindingType::UsSsn, "523-11-8386"),
        (FindingType::IpAddress, "203.0.113.9"),
        (FindingType::IpAddress, "2001:db8::8a2e:370:7334"),
        (FindingType::MacAddress, "00:1A:2B:3C:4D:5E"),
        (FindingType::Phone, "+1 202-555-0173"),
        (FindingType::Email, "ann@example.org"),
    ];
    let want: Vec<(FindingType, String)> =
        want.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    assert_eq!(got, want);
}

#[test]
fn rejects_invalid_lookalikes() {
    let r = redactor();
    for text in [
        "card 4111 1111 1111 1112",         // Luhn fails
        "IBAN GB82 WEST 1234 5698 7654 33", // mod-97 fails
        "SSN 666-12-3456 and 900-12-3456",  // never-issued areas
        "release v1.2.3.4 and version 10.0.0.1",
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "listening on 0.0.0.0:8080 and 127.0.0.1:5432",
        "2024-03-15T10:30:00Z build 20240315 took 1234 ms",
        "std::vector<int> and fmt::Debug",
    ] {
        assert_eq!(kinds(&r, text), vec![], "no finding expected in {text:?}");
    }
}

#[test]
fn secrets_block_and_are_masked() {
    let r = redactor();
    let key = format!("AKIA{}", "Z7Q2XK4M5N6P7R3T");
    let text = format!("aws_access_key_id = {key}\npassword: \"Tr0ub4dor&3x\"");
    let mut v = Vault::new();
    let out = r.apply(&text, &mut v);
    assert!(out.blocked, "secrets block by default policy");
    assert!(!out.text.contains(&key) && !out.text.contains("Tr0ub4dor"));
    assert_eq!(out.findings.len(), 2);
    assert_eq!(out.findings[0].kind, FindingType::Secret);
    assert_eq!(out.findings[0].detector, "aws-access-key-id");
    assert_eq!(out.findings[1].kind, FindingType::Credential);
    assert!(
        v.is_empty(),
        "blocked values are masked, not kept in the vault"
    );
}

#[test]
fn placeholders_ignore_allowlisted_values() {
    let r = redactor();
    for text in [
        "password = ${DB_PASSWORD}",
        "password: changeme",
        "api_key = \"your_api_key_here_xxxxxxxx\"",
        "token = \"<YOUR_TOKEN>\"",
        "password = os.getenv(\"PW\")",
        "password: string;",
    ] {
        assert_eq!(kinds(&r, text), vec![], "placeholder flagged in {text:?}");
    }
}

#[test]
fn pseudonyms_are_stable_across_messages_and_restore() {
    let r = redactor();
    let mut v = Vault::new();
    let a = r.apply("Email bob@example.com and amy@example.com", &mut v);
    let b = r.apply("Again: amy@example.com", &mut v);
    assert_eq!(a.text, "Email [EMAIL_1] and [EMAIL_2]");
    assert_eq!(
        b.text, "Again: [EMAIL_2]",
        "same value, same placeholder in a conversation"
    );
    assert_eq!(
        v.restore("Reply to [EMAIL_2] and [EMAIL_1]"),
        "Reply to amy@example.com and bob@example.com"
    );
}

#[test]
fn restricted_terms_match_case_insensitively_on_word_boundaries() {
    let cfg = RedactorConfig {
        restricted_terms: vec!["Bluebird".into(), "Acme Corp".into()],
        ..RedactorConfig::default()
    };
    let r = Redactor::new(cfg).unwrap();
    let got = kinds(&r, "Project BLUEBIRD for acme corp, not bluebirds");
    assert_eq!(
        got,
        vec![
            (FindingType::RestrictedTerm, "BLUEBIRD".into()),
            (FindingType::RestrictedTerm, "acme corp".into())
        ]
    );
}

#[test]
fn pii_off_leaves_pii_but_still_blocks_secrets() {
    let cfg = RedactorConfig {
        pii_redaction: false,
        ..RedactorConfig::default()
    };
    let r = Redactor::new(cfg).unwrap();
    let tok = format!("ghp_{}", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5");
    let out = r.apply(&format!("ann@example.org {tok}"), &mut Vault::new());
    assert!(out.text.starts_with("ann@example.org "));
    assert!(out.blocked);
}

#[test]
fn has_at_least_150_secret_rules() {
    assert!(redactor().secret_rule_count() >= 150);
}

#[test]
fn adjacent_values_are_each_found() {
    let r = redactor();
    let text = "GB82 WEST 1234 5698 7654 32 4111 1111 1111 1111 ";
    let got = kinds(&r, text);
    assert_eq!(
        got,
        vec![
            (FindingType::Iban, "GB82 WEST 1234 5698 7654 32".to_owned()),
            (FindingType::CreditCard, "4111 1111 1111 1111".to_owned())
        ]
    );
}

#[test]
fn a_first_name_standing_alone_is_a_person_but_not_after_a_place_word_or_as_a_value() {
    let r = redactor();
    let person = |text: &str| persons(&r, text);
    assert_eq!(person("Sandra is a very sympathetic person."), ["Sandra"]);
    assert_eq!(person("As promised, here's Erik's address."), ["Erik"]);
    assert_eq!(
        person("Hanne: What a wife.\\nRoger: You saved my life!"),
        ["Hanne", "Roger"],
        "speakers in a transcript, even after an escaped line break"
    );
    assert!(
        person("Max: 100\nretries: 3").is_empty(),
        "a setting is not a speaker"
    );
    assert!(person("We fly to Florence in May.").is_empty());
    assert!(person("Set the owner's flag, then call Build.").is_empty());
}

#[test]
fn an_address_takes_its_city_region_postcode_and_country_lines_and_nothing_after() {
    let r = redactor();
    let text =
        "I'll meet you at 8361 Stallstigen 19\n Suite 907\n ÖSTERSKÄR\n Sweden after the concert.";
    assert_eq!(
        kinds(&r, text),
        [(
            FindingType::StreetAddress,
            "8361 Stallstigen 19\n Suite 907\n ÖSTERSKÄR\n Sweden".to_owned()
        )]
    );
    let found = kinds(
        &r,
        "Send it to 3170 Via Roma 41, Dusino, Italy 68642. Thanks",
    );
    assert_eq!(
        found,
        [(
            FindingType::StreetAddress,
            "3170 Via Roma 41, Dusino, Italy 68642".to_owned()
        )]
    );
    assert_eq!(
        kinds(&r, "Address: 2007 Vidkuns gate 71"),
        [(
            FindingType::StreetAddress,
            "2007 Vidkuns gate 71".to_owned()
        )]
    );
    // The phone on the next line stays a phone number.
    let got = kinds(
        &r,
        "107 Rue Abdelaziz Thâalbi\\n Suite 543\\n El Akarit\\n Tunisia 91941\\n75 816 307-Office",
    );
    assert!(
        got.contains(&(FindingType::Phone, "75 816 307".to_owned())),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|(k, v)| *k == FindingType::StreetAddress && v.ends_with("Tunisia 91941")),
        "{got:?}"
    );
}

#[test]
fn family_names_are_known_by_their_endings() {
    let r = redactor();
    let person = |text: &str| persons(&r, text);
    assert_eq!(
        person("The song was by Ragnarsdóttir, says Tomaszewski."),
        ["Ragnarsdóttir", "Tomaszewski"]
    );
    assert!(person("A Season of Reason: the Alaska office, in Essen.").is_empty());
}

#[test]
fn speech_greetings_and_street_corners_are_context() {
    let r = redactor();
    let got = kinds(
        &r,
        "I'm so jealous! said Koppány to Christy. Hi Lahual, the van waits at the corner of Ylimäki Circles and Radomir Springs.",
    );
    assert_eq!(
        got,
        [
            (FindingType::Person, "Koppány".to_owned()),
            (FindingType::Person, "Christy".to_owned()),
            (FindingType::Person, "Lahual".to_owned()),
            (
                FindingType::StreetAddress,
                "the corner of Ylimäki Circles and Radomir Springs".to_owned()
            ),
        ]
    );
    assert!(
        kinds(&r, "Move it to the corner of the room and wait.").is_empty(),
        "a corner of something that is not a street"
    );
}

#[test]
fn a_street_name_after_a_common_word_is_found_with_or_without_that_word() {
    let r = redactor();
    let streets = |text: &str| -> Vec<String> {
        kinds(&r, text)
            .into_iter()
            .filter(|(k, _)| *k == FindingType::StreetAddress)
            .map(|(_, v)| v)
            .collect()
    };
    assert_eq!(streets("Bluebird Rengaskuja 21 "), ["Rengaskuja 21"]);
    assert_eq!(streets("[PERSON_1] Rengaskuja 21 "), ["Rengaskuja 21"]);
}

#[test]
fn a_name_before_a_capitalised_value_stays_unfound_once_the_value_is_a_placeholder() {
    let r = redactor();
    let mut vault = Vault::new();
    let once = r.apply("Pui GB82 WEST 1234 5698 7654 32 ", &mut vault);
    assert_eq!(once.text, "Pui [IBAN_1] ");
    let twice = r.apply(&once.text, &mut vault);
    assert_eq!(
        twice.text, once.text,
        "redacting twice changes nothing more"
    );
}
