//! Secret and credential rules, written from each provider's documented token format.
//!
//! Two shapes:
//! - [`Shape::Token`]: a self-identifying token (a fixed prefix such as `ghp_`, `AKIA`,
//!   `xoxb-`), matched anywhere on word boundaries. The keyword is the prefix itself.
//! - [`Shape::Assigned`]: a token with no prefix of its own, recognised only when it is
//!   assigned to a name containing the provider's keyword (`linkedin_secret = "…"`,
//!   `"etsyToken": "…"`). The value pattern is case-insensitive.
//!
//! Every rule lists Aho-Corasick keywords; its regex runs only near a keyword hit.

use crate::finding::FindingType;

/// How a rule's regex is built.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape {
    /// The regex as written; capture group 1 (if any) is the secret span.
    Token(&'static str),
    /// Value pattern assigned to an identifier containing one of the keywords.
    Assigned(&'static str),
}

/// One detection rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    pub id: &'static str,
    pub kind: FindingType,
    /// Lowercase ASCII; matched case-insensitively as the prefilter.
    pub keywords: &'static [&'static str],
    pub shape: Shape,
    /// Minimum Shannon entropy (bits per char) of the secret; 0 disables the gate.
    pub entropy: f32,
    pub confidence: f32,
}

const S: FindingType = FindingType::Secret;
const C: FindingType = FindingType::Credential;

const fn tok(id: &'static str, keywords: &'static [&'static str], re: &'static str) -> Rule {
    Rule {
        id,
        kind: S,
        keywords,
        shape: Shape::Token(re),
        entropy: 0.0,
        confidence: 0.95,
    }
}

const fn tok_e(
    id: &'static str,
    keywords: &'static [&'static str],
    re: &'static str,
    entropy: f32,
) -> Rule {
    Rule {
        id,
        kind: S,
        keywords,
        shape: Shape::Token(re),
        entropy,
        confidence: 0.9,
    }
}

const fn cred(id: &'static str, keywords: &'static [&'static str], re: &'static str) -> Rule {
    Rule {
        id,
        kind: C,
        keywords,
        shape: Shape::Token(re),
        entropy: 0.0,
        confidence: 0.95,
    }
}

const fn kv(id: &'static str, keywords: &'static [&'static str], value: &'static str) -> Rule {
    Rule {
        id,
        kind: S,
        keywords,
        shape: Shape::Assigned(value),
        entropy: 0.0,
        confidence: 0.8,
    }
}

const UUID: &str = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

/// The rule table. Order does not matter: overlaps are resolved afterwards.
pub(crate) const RULES: &[Rule] = &[
    // --- Cloud providers -------------------------------------------------------------
    tok(
        "aws-access-key-id",
        &["akia", "asia", "abia", "acca", "a3t"],
        r"((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})",
    ),
    tok(
        "aws-bedrock-api-key",
        &["absk"],
        r"(ABSK[A-Za-z0-9+/]{109,269}={0,2})",
    ),
    kv(
        "aws-secret-access-key",
        &[
            "aws_secret",
            "aws-secret",
            "awssecret",
            "secret_access_key",
            "secretaccesskey",
        ],
        r"[a-z0-9/+]{40}",
    ),
    tok("gcp-api-key", &["aiza"], r"(AIza[\w-]{35})"),
    cred(
        "gcp-service-account",
        &["service_account"],
        r#""type"\s*:\s*"(service_account)""#,
    ),
    tok(
        "azure-ad-client-secret",
        &["q~"],
        r"([a-zA-Z0-9_~.]{3}\dQ~[a-zA-Z0-9_~.-]{31,34})",
    ),
    cred(
        "azure-storage-account-key",
        &["accountkey"],
        r"(?i)AccountKey=([a-z0-9+/]{86}==)",
    ),
    tok(
        "azure-sas-signature",
        &["sig="],
        r"[?&]sig=([A-Za-z0-9%]{40,120})",
    ),
    kv("alibaba-secret-key", &["alibaba"], r"[a-z0-9]{30}"),
    tok("alibaba-access-key-id", &["ltai"], r"(LTAI[a-zA-Z0-9]{20})"),
    tok(
        "digitalocean-token",
        &["doo_v1_", "dop_v1_", "dor_v1_"],
        r"(do[opr]_v1_[a-f0-9]{64})",
    ),
    tok(
        "heroku-api-key-v2",
        &["hrku-"],
        r"(HRKU-AA[0-9a-zA-Z_-]{58})",
    ),
    kv("heroku-api-key", &["heroku"], UUID),
    tok(
        "flyio-access-token",
        &["fo1_", "fm1", "fm2_"],
        r"((?:fo1_[\w-]{43}|fm1[ar]_[a-zA-Z0-9+/]{100,}={0,3}|fm2_[a-zA-Z0-9+/]{100,}={0,3}))",
    ),
    tok("openshift-user-token", &["sha256~"], r"(sha256~[\w-]{43})"),
    tok(
        "yandex-access-token",
        &["t1."],
        r"(t1\.[A-Z0-9a-z_-]+={0,2}\.[A-Z0-9a-z_-]{86}={0,2})",
    ),
    tok("yandex-api-key", &["aqvn"], r"(AQVN[A-Za-z0-9_\-]{35,38})"),
    kv("yandex-aws-access-token", &["yandex"], r"YC[a-z0-9_\-]{38}"),
    tok("scalingo-api-token", &["tk-us-"], r"(tk-us-[\w-]{48})"),
    tok(
        "clickhouse-cloud-api-secret",
        &["4b1d"],
        r"(4b1d[A-Za-z0-9]{38})",
    ),
    kv("cloudflare-api-key", &["cloudflare"], r"[a-z0-9_-]{40}"),
    kv(
        "cloudflare-global-api-key",
        &["cloudflare"],
        r"[a-f0-9]{37}",
    ),
    tok(
        "cloudflare-origin-ca-key",
        &["v1.0-"],
        r"(v1\.0-[a-f0-9]{24}-[a-f0-9]{146})",
    ),
    tok(
        "hashicorp-tf-api-token",
        &["atlasv1"],
        r"([a-z0-9]{14}\.atlasv1\.[a-z0-9\-_=]{60,70})",
    ),
    tok(
        "hashicorp-vault-batch-token",
        &["hvb."],
        r"(hvb\.[\w-]{138,300})",
    ),
    tok(
        "hashicorp-vault-service-token",
        &["hvs."],
        r"(hvs\.[\w-]{90,120})",
    ),
    kv(
        "hashicorp-vault-legacy-token",
        &["vault"],
        r"s\.[a-z0-9]{24}",
    ),
    tok("pulumi-api-token", &["pul-"], r"(pul-[a-f0-9]{40})"),
    tok("doppler-api-token", &["dp.pt."], r"(dp\.pt\.[a-z0-9]{43})"),
    tok("infracost-api-token", &["ico-"], r"(ico-[a-zA-Z0-9]{32})"),
    tok(
        "harness-api-key",
        &["pat.", "sat."],
        r"((?:pat|sat)\.[\w-]{22}\.[\w-]{24}\.[\w-]{20})",
    ),
    tok(
        "dynatrace-api-token",
        &["dt0c01."],
        r"(dt0c01\.[a-z0-9]{24}\.[a-z0-9]{64})",
    ),
    tok(
        "databricks-api-token",
        &["dapi"],
        r"(dapi[a-f0-9]{32}(?:-\d)?)",
    ),
    tok(
        "defined-networking-api-token",
        &["dnkey-"],
        r"(dnkey-[a-z0-9=_-]{26}-[a-z0-9=_-]{52})",
    ),
    tok("octopus-deploy-api-key", &["api-"], r"(API-[A-Z0-9]{26})"),
    tok("prefect-api-token", &["pnu_"], r"(pnu_[a-zA-Z0-9]{36})"),
    tok(
        "planetscale-token",
        &["pscale_"],
        r"(pscale_(?:tkn|oauth|pw)_[\w=.-]{32,64})",
    ),
    tok("netlify-pat", &["nfp_"], r"(nfp_[a-zA-Z0-9]{36})"),
    kv("netlify-access-token", &["netlify"], r"[a-z0-9=_\-]{40,46}"),
    tok("render-api-key", &["rnd_"], r"(rnd_[a-zA-Z0-9]{32})"),
    tok("vercel-token", &["vercel_"], r"(vercel_[a-zA-Z0-9]{24})"),
    tok("supabase-service-key", &["sbp_"], r"(sbp_[a-f0-9]{40})"),
    kv("linode-pat", &["linode"], r"[a-f0-9]{64}"),
    kv("okta-access-token", &["okta"], r"00[a-z0-9=_\-]{40}"),
    tok(
        "sidekiq-sensitive-url",
        &["contribsys.com"],
        r"https?://([a-f0-9]{8}:[a-f0-9]{8})@(?:gems|enterprise)\.contribsys\.com",
    ),
    kv(
        "sidekiq-secret",
        &["contribsys"],
        r"[a-f0-9]{8}:[a-f0-9]{8}",
    ),
    // --- Source control, CI and package registries ----------------------------------------
    tok("github-pat", &["ghp_"], r"(ghp_[A-Za-z0-9]{36})"),
    tok("github-oauth", &["gho_"], r"(gho_[A-Za-z0-9]{36})"),
    tok(
        "github-app-token",
        &["ghu_", "ghs_"],
        r"((?:ghu|ghs)_[A-Za-z0-9]{36})",
    ),
    tok("github-refresh-token", &["ghr_"], r"(ghr_[A-Za-z0-9]{36})"),
    tok(
        "github-fine-grained-pat",
        &["github_pat_"],
        r"(github_pat_\w{82})",
    ),
    tok(
        "gitlab-pat",
        &["glpat-"],
        r"(glpat-[\w-]{20}(?:[\w-]{7,280}\.[0-9a-z]{2}[0-9a-z]{7})?)",
    ),
    tok(
        "gitlab-pipeline-trigger-token",
        &["glptt-"],
        r"(glptt-[0-9a-f]{40})",
    ),
    tok(
        "gitlab-runner-registration-token",
        &["gr1348941"],
        r"(GR1348941[\w-]{20})",
    ),
    tok(
        "gitlab-runner-token",
        &["glrt-"],
        r"(glrt-[\w-]{20}(?:[\w-]{7,280}\.[0-9a-z]{2}[0-9a-z]{7})?)",
    ),
    tok(
        "gitlab-cicd-job-token",
        &["glcbt-"],
        r"(glcbt-[0-9a-zA-Z]{1,5}_[\w-]{20})",
    ),
    tok("gitlab-deploy-token", &["gldt-"], r"(gldt-[\w-]{20})"),
    tok(
        "gitlab-feature-flag-token",
        &["glffct-"],
        r"(glffct-[\w-]{20})",
    ),
    tok("gitlab-feed-token", &["glft-"], r"(glft-[\w-]{20})"),
    tok(
        "gitlab-incoming-mail-token",
        &["glimt-"],
        r"(glimt-[\w-]{25})",
    ),
    tok(
        "gitlab-kubernetes-agent-token",
        &["glagent-"],
        r"(glagent-[\w-]{50})",
    ),
    tok("gitlab-oauth-app-secret", &["gloas-"], r"(gloas-[\w-]{64})"),
    tok("gitlab-scim-token", &["glsoat-"], r"(glsoat-[\w-]{20})"),
    tok(
        "gitlab-session-cookie",
        &["_gitlab_session="],
        r"_gitlab_session=([0-9a-z]{32})",
    ),
    kv("bitbucket-client-id", &["bitbucket"], r"[a-z0-9]{32}"),
    kv(
        "bitbucket-client-secret",
        &["bitbucket"],
        r"[a-z0-9=_\-]{64}",
    ),
    tok(
        "bitbucket-app-password",
        &["atbb"],
        r"(ATBB[a-zA-Z0-9]{32})",
    ),
    tok(
        "atlassian-api-token-v2",
        &["atatt3"],
        r"(ATATT3[A-Za-z0-9_\-=]{186})",
    ),
    kv(
        "atlassian-api-token",
        &["atlassian", "confluence", "jira"],
        r"[a-z0-9]{24}",
    ),
    kv(
        "droneci-access-token",
        &["droneci", "drone_"],
        r"[a-z0-9]{32}",
    ),
    kv("travisci-access-token", &["travis"], r"[a-z0-9]{22}"),
    kv("codecov-access-token", &["codecov"], r"[a-z0-9]{32}"),
    tok("npm-access-token", &["npm_"], r"(npm_[a-zA-Z0-9]{36})"),
    tok(
        "pypi-upload-token",
        &["pypi-ageichlwas5vcmc"],
        r"(pypi-AgEIcHlwaS5vcmc[\w-]{50,1000})",
    ),
    tok(
        "rubygems-api-token",
        &["rubygems_"],
        r"(rubygems_[a-f0-9]{48})",
    ),
    tok(
        "clojars-api-token",
        &["clojars_"],
        r"(?i)(CLOJARS_[a-z0-9]{60})",
    ),
    tok("nuget-api-key", &["oy2"], r"(oy2[a-z0-9]{43})"),
    tok(
        "docker-hub-pat",
        &["dckr_pat_"],
        r"(dckr_pat_[a-zA-Z0-9_-]{27})",
    ),
    tok("artifactory-api-key", &["akcp"], r"(AKCp[A-Za-z0-9]{69})"),
    tok(
        "artifactory-reference-token",
        &["cmvmd"],
        r"(cmVmd[A-Za-z0-9]{59})",
    ),
    kv(
        "jfrog-api-key",
        &["jfrog", "artifactory", "bintray", "xray"],
        r"[a-z0-9]{73}",
    ),
    kv(
        "jfrog-identity-token",
        &["jfrog", "artifactory", "bintray", "xray"],
        r"[a-z0-9]{64}",
    ),
    tok("readme-api-token", &["rdme_"], r"(rdme_[a-z0-9]{70})"),
    tok(
        "postman-api-token",
        &["pmak-"],
        r"(PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34})",
    ),
    tok_e(
        "sentry-user-token",
        &["sntryu_"],
        r"(sntryu_[a-f0-9]{64})",
        3.0,
    ),
    tok(
        "sentry-org-token",
        &["sntrys_"],
        r"(sntrys_eyJpYXQiO[a-zA-Z0-9+/]{10,200}(?:LCJyZWdpb25fdXJs|InJlZ2lvbl91cmwi|cmVnaW9uX3VybCI6)[a-zA-Z0-9+/]{10,200}={0,2}_[a-zA-Z0-9+/]{43})",
    ),
    kv("sentry-access-token", &["sentry"], r"[a-f0-9]{64}"),
    tok(
        "grafana-api-key",
        &["eyjrijoi"],
        r"(eyJrIjoi[A-Za-z0-9]{70,400}={0,3})",
    ),
    tok(
        "grafana-cloud-api-token",
        &["glc_"],
        r"(glc_[A-Za-z0-9+/]{32,400}={0,3})",
    ),
    tok(
        "grafana-service-account-token",
        &["glsa_"],
        r"(glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})",
    ),
    // --- Chat, messaging, webhooks -----------------------------------------------------
    tok(
        "slack-bot-token",
        &["xoxb-"],
        r"(xoxb-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*)",
    ),
    tok(
        "slack-user-token",
        &["xoxp-", "xoxe.xoxp-"],
        r"((?:xoxe\.)?xoxp-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]{28,34})",
    ),
    tok(
        "slack-app-token",
        &["xapp-"],
        r"(?i)(xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+)",
    ),
    tok(
        "slack-config-token",
        &["xoxe"],
        r"(?i)((?:xoxe\.xox[bp]|xoxe)-\d-[A-Z0-9]{146,170})",
    ),
    tok(
        "slack-legacy-token",
        &["xoxs-", "xoxo-", "xoxa-", "xoxr-", "xoxb-"],
        r"(xox[osarb]-(?:\d+-)?[0-9a-zA-Z-]{8,100})",
    ),
    tok(
        "slack-webhook-url",
        &["hooks.slack.com"],
        r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9+/]{43,56}|T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{24})",
    ),
    tok(
        "microsoft-teams-webhook",
        &["webhook.office.com"],
        r"https://[a-z0-9]+\.webhook\.office\.com/webhookb2/([a-z0-9]{8}-(?:[a-z0-9]{4}-){3}[a-z0-9]{12}@[a-z0-9]{8}-(?:[a-z0-9]{4}-){3}[a-z0-9]{12}/IncomingWebhook/[a-z0-9]{32}/[a-z0-9]{8}-(?:[a-z0-9]{4}-){3}[a-z0-9]{12})",
    ),
    tok(
        "discord-webhook",
        &["discord.com/api/webhooks", "discordapp.com/api/webhooks"],
        r"discord(?:app)?\.com/api/webhooks/(\d{17,20}/[\w-]{60,70})",
    ),
    tok(
        "discord-bot-token",
        &["discord"],
        r"(?i)discord[\w.-]{0,20}[\s'\x22]{0,3}[:=][\s'\x22]{0,3}([MN][A-Za-z\d]{23,25}\.[\w-]{6}\.[\w-]{27,38})",
    ),
    kv("discord-api-token", &["discord"], r"[a-f0-9]{64}"),
    kv("discord-client-id", &["discord"], r"[0-9]{18}"),
    kv("discord-client-secret", &["discord"], r"[a-z0-9=_\-]{32}"),
    tok_e(
        "telegram-bot-api-token",
        &[":a"],
        r"(?:^|[^0-9])([0-9]{5,16}:A[a-zA-Z0-9_\-]{34})",
        3.0,
    ),
    kv("gitter-access-token", &["gitter"], r"[a-z0-9_-]{40}"),
    kv("mattermost-access-token", &["mattermost"], r"[a-z0-9]{26}"),
    kv(
        "messagebird-api-token",
        &["messagebird", "message-bird", "message_bird"],
        r"[a-z0-9]{25}",
    ),
    kv(
        "messagebird-client-id",
        &["messagebird", "message-bird", "message_bird"],
        UUID,
    ),
    tok("twilio-api-key", &["sk"], r"(SK[0-9a-fA-F]{32})"),
    kv("twilio-account-sid", &["twilio"], r"AC[a-f0-9]{32}"),
    tok("sendgrid-api-token", &["sg."], r"(SG\.[\w=.-]{66})"),
    tok(
        "sendinblue-api-token",
        &["xkeysib-"],
        r"(xkeysib-[a-f0-9]{64}-[a-zA-Z0-9]{16})",
    ),
    kv(
        "mailgun-private-api-token",
        &["mailgun"],
        r"key-[a-f0-9]{32}",
    ),
    tok("mailgun-pub-key", &["pubkey-"], r"(pubkey-[a-f0-9]{32})"),
    kv(
        "mailgun-signing-key",
        &["mailgun"],
        r"[a-h0-9]{32}-[a-h0-9]{8}-[a-h0-9]{8}",
    ),
    kv(
        "mailchimp-api-key",
        &["mailchimp"],
        r"[a-f0-9]{32}-us\d{1,2}",
    ),
    tok(
        "mailchimp-api-key-bare",
        &["-us"],
        r"([a-f0-9]{32}-us[0-9]{1,2})",
    ),
    kv("intercom-api-key", &["intercom"], r"[a-z0-9=_\-]{60}"),
    kv("sendbird-access-id", &["sendbird"], UUID),
    kv("sendbird-access-token", &["sendbird"], r"[a-f0-9]{40}"),
    kv("zendesk-secret-key", &["zendesk"], r"[a-z0-9]{40}"),
    kv("beamer-api-token", &["beamer"], r"b_[a-z0-9=_\-]{44}"),
    // --- Payments, commerce, finance -----------------------------------------------------
    tok(
        "stripe-secret-key",
        &["sk_", "rk_"],
        r"((?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99})",
    ),
    tok(
        "stripe-webhook-secret",
        &["whsec_"],
        r"(whsec_[a-zA-Z0-9]{32,64})",
    ),
    tok(
        "square-access-token",
        &["eaaa", "sq0atp-"],
        r"((?:EAAA|sq0atp-)[\w-]{22,60})",
    ),
    tok("square-secret", &["sq0csp-"], r"(sq0csp-[\w-]{43})"),
    tok(
        "shopify-access-token",
        &["shpat_"],
        r"(shpat_[a-fA-F0-9]{32})",
    ),
    tok(
        "shopify-custom-access-token",
        &["shpca_"],
        r"(shpca_[a-fA-F0-9]{32})",
    ),
    tok(
        "shopify-private-app-token",
        &["shppa_"],
        r"(shppa_[a-fA-F0-9]{32})",
    ),
    tok(
        "shopify-shared-secret",
        &["shpss_"],
        r"(shpss_[a-fA-F0-9]{32})",
    ),
    tok(
        "shippo-api-token",
        &["shippo_"],
        r"(shippo_(?:live|test)_[a-fA-F0-9]{40})",
    ),
    tok("easypost-api-token", &["ezak"], r"(EZAK[a-zA-Z0-9]{54})"),
    tok(
        "easypost-test-api-token",
        &["eztk"],
        r"(EZTK[a-zA-Z0-9]{54})",
    ),
    tok(
        "flutterwave-key",
        &["flwseck", "flwpubk"],
        r"(FLW(?:SECK|PUBK)_TEST-[a-hA-H0-9]{12,32}(?:-X)?)",
    ),
    tok(
        "duffel-api-token",
        &["duffel_"],
        r"(duffel_(?:test|live)_[a-zA-Z0-9_\-=]{43})",
    ),
    tok(
        "plaid-api-token",
        &[
            "access-sandbox-",
            "access-development-",
            "access-production-",
        ],
        r"(access-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
    ),
    kv("plaid-client-id", &["plaid"], r"[a-z0-9]{24}"),
    kv("plaid-secret-key", &["plaid"], r"[a-z0-9]{30}"),
    kv(
        "gocardless-api-token",
        &["gocardless"],
        r"live_[a-z0-9\-_=]{40}",
    ),
    kv("lob-api-key", &["lob"], r"(?:live|test)_[a-f0-9]{35}"),
    kv(
        "lob-pub-api-key",
        &["lob"],
        r"(?:test|live)_pub_[a-f0-9]{31}",
    ),
    kv("finicity-api-token", &["finicity"], r"[a-f0-9]{32}"),
    kv("finicity-client-secret", &["finicity"], r"[a-z0-9]{20}"),
    kv("finnhub-access-token", &["finnhub"], r"[a-z0-9]{20}"),
    kv("coinbase-access-token", &["coinbase"], r"[a-z0-9_-]{64}"),
    kv(
        "kraken-access-token",
        &["kraken"],
        r"[a-z0-9/=_\+\-]{80,90}",
    ),
    kv("kucoin-access-token", &["kucoin"], r"[a-f0-9]{24}"),
    kv("kucoin-secret-key", &["kucoin"], UUID),
    kv("bittrex-access-key", &["bittrex"], r"[a-z0-9]{32}"),
    kv("freshbooks-access-token", &["freshbooks"], r"[a-z0-9]{64}"),
    kv("etsy-access-token", &["etsy"], r"[a-z0-9]{24}"),
    kv("squarespace-access-token", &["squarespace"], UUID),
    kv("hubspot-api-key", &["hubspot"], UUID),
    tok(
        "hubspot-private-app-token",
        &["pat-na1-", "pat-eu1-"],
        r"(pat-(?:na|eu)1-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
    ),
    // --- AI providers -------------------------------------------------------------------
    tok(
        "anthropic-api-key",
        &["sk-ant-api03-"],
        r"(sk-ant-api03-[a-zA-Z0-9_\-]{93}AA)",
    ),
    tok(
        "anthropic-admin-api-key",
        &["sk-ant-admin01-"],
        r"(sk-ant-admin01-[a-zA-Z0-9_\-]{93}AA)",
    ),
    tok(
        "openai-api-key",
        &["t3blbkfj"],
        r"(sk-(?:proj|svcacct|admin)?-?[A-Za-z0-9_-]{20,74}T3BlbkFJ[A-Za-z0-9_-]{20,74})",
    ),
    tok(
        "openai-project-key",
        &["sk-proj-", "sk-svcacct-", "sk-admin-"],
        r"(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,200})",
    ),
    tok("huggingface-access-token", &["hf_"], r"(hf_[a-zA-Z]{34})"),
    tok(
        "huggingface-org-token",
        &["api_org_"],
        r"(api_org_[a-zA-Z]{34})",
    ),
    tok("groq-api-key", &["gsk_"], r"(gsk_[a-zA-Z0-9]{52})"),
    tok("replicate-api-token", &["r8_"], r"(r8_[a-zA-Z0-9]{37})"),
    tok("perplexity-api-key", &["pplx-"], r"(pplx-[a-zA-Z0-9]{48})"),
    tok("xai-api-key", &["xai-"], r"(xai-[a-zA-Z0-9]{80})"),
    kv("cohere-api-token", &["cohere", "co_api"], r"[a-z0-9]{40}"),
    kv(
        "privateai-api-token",
        &["privateai", "private_ai", "private-ai"],
        r"[a-z0-9]{32}",
    ),
    kv("mistral-api-key", &["mistral"], r"[a-z0-9]{32}"),
    // --- SaaS ---------------------------------------------------------------------------
    tok(
        "1password-secret-key",
        &["a3-"],
        r"(A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5})",
    ),
    tok(
        "1password-service-account-token",
        &["ops_eyj"],
        r"(ops_eyJ[a-zA-Z0-9+/]{250,}={0,3})",
    ),
    tok("adobe-client-secret", &["p8e-"], r"(p8e-[a-zA-Z0-9]{32})"),
    kv("adobe-client-id", &["adobe"], r"[a-f0-9]{32}"),
    kv("adafruit-api-key", &["adafruit"], r"[a-z0-9_-]{32}"),
    tok(
        "airtable-pat",
        &["pat"],
        r"(pat[a-zA-Z0-9]{14}\.[a-f0-9]{64})",
    ),
    kv("airtable-api-key", &["airtable"], r"[a-z0-9]{17}"),
    kv("algolia-api-key", &["algolia"], r"[a-z0-9]{32}"),
    kv("asana-client-id", &["asana"], r"[0-9]{16}"),
    kv("asana-client-secret", &["asana"], r"[a-z0-9]{32}"),
    tok(
        "authress-access-key",
        &["sc_", "ext_", "scauth_", "authress_"],
        r"((?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\.[a-z0-9]{4,6}\.acc[_-][a-z0-9-]{10,32}\.[a-z0-9+/_=-]{30,120})",
    ),
    kv("cisco-meraki-api-key", &["meraki"], r"[0-9a-f]{40}"),
    kv("confluent-access-token", &["confluent"], r"[a-z0-9]{16}"),
    kv("confluent-secret-key", &["confluent"], r"[a-z0-9]{64}"),
    kv(
        "contentful-delivery-api-token",
        &["contentful"],
        r"[a-z0-9=_\-]{43}",
    ),
    kv(
        "datadog-access-token",
        &["datadog", "dd_api", "dd_app"],
        r"[a-z0-9]{32,40}",
    ),
    kv("dropbox-api-token", &["dropbox"], r"[a-z0-9]{15}"),
    kv(
        "dropbox-short-lived-token",
        &["dropbox"],
        r"sl\.[a-z0-9\-=_]{135}",
    ),
    kv(
        "dropbox-long-lived-token",
        &["dropbox"],
        r"[a-z0-9]{11}AAAAAAAAAA[a-z0-9\-_=]{43}",
    ),
    kv("facebook-secret", &["facebook"], r"[a-f0-9]{32}"),
    tok(
        "facebook-access-token",
        &["eaac", "eaam"],
        r"(EAA[MC][a-zA-Z0-9]{100,})",
    ),
    kv("fastly-api-token", &["fastly"], r"[a-z0-9=_\-]{32}"),
    kv("flickr-access-token", &["flickr"], r"[a-z0-9]{32}"),
    tok(
        "frameio-api-token",
        &["fio-u-"],
        r"(fio-u-[a-zA-Z0-9\-_=]{64})",
    ),
    kv(
        "launchdarkly-access-token",
        &["launchdarkly"],
        r"[a-z0-9=_\-]{40}",
    ),
    tok(
        "linear-api-key",
        &["lin_api_"],
        r"(lin_api_[a-zA-Z0-9]{40})",
    ),
    kv("linear-client-secret", &["linear"], r"[a-f0-9]{32}"),
    kv(
        "linkedin-client-id",
        &["linkedin", "linked-in", "linked_in"],
        r"[a-z0-9]{14}",
    ),
    kv(
        "linkedin-client-secret",
        &["linkedin", "linked-in", "linked_in"],
        r"[a-z0-9]{16}",
    ),
    kv("looker-client-id", &["looker"], r"[a-z0-9]{20}"),
    kv("looker-client-secret", &["looker"], r"[a-z0-9]{24}"),
    tok(
        "mapbox-api-token",
        &["pk."],
        r"(?i)(pk\.[a-z0-9]{60}\.[a-z0-9]{22})",
    ),
    tok(
        "mapbox-secret-token",
        &["sk."],
        r"(?i)(sk\.[a-z0-9]{60}\.[a-z0-9]{22})",
    ),
    tok(
        "new-relic-browser-token",
        &["nrjs-"],
        r"(NRJS-[a-f0-9]{19})",
    ),
    tok(
        "new-relic-insert-key",
        &["nrii-"],
        r"(NRII-[a-zA-Z0-9-]{32})",
    ),
    tok(
        "new-relic-user-api-key",
        &["nrak-"],
        r"(NRAK-[a-zA-Z0-9]{27})",
    ),
    kv(
        "new-relic-user-api-id",
        &["new-relic", "newrelic", "new_relic"],
        r"[a-z0-9]{64}",
    ),
    kv(
        "nytimes-access-token",
        &["nytimes", "new-york-times", "newyorktimes"],
        r"[a-z0-9=_\-]{32}",
    ),
    kv("rapidapi-access-token", &["rapidapi"], r"[a-z0-9_-]{50}"),
    kv("sumologic-access-id", &["sumo"], r"su[a-zA-Z0-9]{12}"),
    kv("sumologic-access-token", &["sumo"], r"[a-z0-9]{64}"),
    kv("twitch-api-token", &["twitch"], r"[a-z0-9]{30}"),
    tok(
        "twitter-bearer-token",
        &["aaaaaaaaaaaaaaaaaaaaaa"],
        r"(A{22}[a-zA-Z0-9%]{80,100})",
    ),
    kv("twitter-api-key", &["twitter"], r"[a-z0-9]{25}"),
    kv("twitter-api-secret", &["twitter"], r"[a-z0-9]{50}"),
    kv(
        "twitter-access-token",
        &["twitter"],
        r"[0-9]{15,25}-[a-z0-9]{20,40}",
    ),
    kv("twitter-access-secret", &["twitter"], r"[a-z0-9]{45}"),
    tok(
        "typeform-api-token",
        &["tfp_"],
        r"(tfp_[a-zA-Z0-9\-_.=]{59})",
    ),
    tok(
        "settlemint-token",
        &["sm_aat_", "sm_pat_", "sm_sat_"],
        r"(sm_(?:aat|pat|sat)_[a-zA-Z0-9]{16})",
    ),
    kv("mailjet-api-key", &["mailjet"], r"[a-f0-9]{32}"),
    tok(
        "notion-api-key",
        &["secret_", "ntn_"],
        r"((?:secret_[a-zA-Z0-9]{43}|ntn_[0-9]{11}[a-zA-Z0-9]{35}))",
    ),
    tok(
        "asana-pat",
        &["2/1", "1/1"],
        r"([12]/[0-9]{16}/[0-9]{16}:[a-f0-9]{32})",
    ),
    tok("figma-pat", &["figd_"], r"(figd_[\w-]{40})"),
    tok("contentful-pat", &["cfpat-"], r"(CFPAT-[\w-]{43})"),
    tok(
        "age-secret-key",
        &["age-secret-key-1"],
        r"(AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})",
    ),
    tok(
        "jwt",
        &["ey"],
        r"(ey[a-zA-Z0-9]{17,}\.ey[a-zA-Z0-9/\\_-]{17,}\.(?:[a-zA-Z0-9/\\_-]{10,}={0,2})?)",
    ),
    // --- Credentials: keys, passwords, connection strings ---------------------------------
    cred(
        "private-key",
        &["private key"],
        r"(-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S]{40,16000}?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----)",
    ),
    cred(
        "private-key-truncated",
        &["private key"],
        r"(-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?:\s|\\n)+[A-Za-z0-9+/=]{40,}(?:(?:\s|\\n)+[A-Za-z0-9+/=:-]{4,})*)",
    ),
    cred(
        "putty-private-key",
        &["putty-user-key-file"],
        r"(PuTTY-User-Key-File-\d: [\s\S]{40,8000}?Private-MAC: [a-f0-9]{40,64})",
    ),
    cred(
        "pgp-private-key",
        &["pgp private key"],
        r"(-----BEGIN PGP PRIVATE KEY BLOCK-----[\s\S]{40,16000}?-----END PGP PRIVATE KEY BLOCK-----)",
    ),
];
