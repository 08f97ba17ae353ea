#!/usr/bin/env python3
"""Builds prompts.jsonl: our own labelled prompts, as people write them to coding and
support assistants. Segments in {TYPE:value} form become labelled spans; offsets are Unicode
code points, like pii-public.jsonl. No secrets here: secret tests generate tokens at test time.

Regenerate: python3 crates/redact/testdata/make_prompts.py > crates/redact/testdata/prompts.jsonl
"""
import json
import re

PROMPTS = [
    # --- with PII -------------------------------------------------------------------------
    "Hi, my order never arrived. My email is {EMAIL:dana.whitfield@mailbox.org} and my phone is {PHONE:+44 20 7946 0958}. Can you check?",
    "Customer {PERSON:Oskar Lindqvist} called from {PHONE:(415) 555-0132} about a refund to card ending 4242.",
    "Please update the billing IBAN to {IBAN:DE89 3704 0044 0532 0130 00} for account 88213.",
    "Why does this fail?\n```python\nuser = {\"email\": \"{EMAIL:r.okafor@example.net}\", \"ssn\": \"{US_SSN:524-71-3349}\"}\nvalidate(user)\n```\nTraceback (most recent call last):\n  File \"app.py\", line 42, in validate\nValueError: bad ssn",
    "nginx log:\n{IP_ADDRESS:198.51.100.23} - - [12/Mar/2024:10:15:32 +0000] \"GET /api/v2/orders HTTP/1.1\" 500 1234\nwhat does the 500 mean?",
    "id,name,email,phone\n1,{PERSON:Amara Nwosu},{EMAIL:amara.nwosu@example.com},{PHONE:+1 212 555 0187}\n2,{PERSON:Tomasz Wójcik},{EMAIL:t.wojcik@example.pl},{PHONE:+48 22 123 45 67}\nwrite a pandas script that dedupes this CSV",
    "Refund failed for card {CREDIT_CARD:4539 1488 0343 6467} exp 04/27, please retry.",
    "Ship to {STREET_ADDRESS:1600 Amphitheatre Parkway, Mountain View, CA 94043} by Friday.",
    "Lieferadresse: {STREET_ADDRESS:Hauptstraße 12a, 10115 Berlin}, bitte bis Montag.",
    "Adresse de livraison : {STREET_ADDRESS:12 rue de la Paix, 75002 Paris}",
    "The device with MAC {MAC_ADDRESS:3c:22:fb:9a:41:07} keeps dropping off the VPN at {IP_ADDRESS:10.20.30.44}.",
    "Dear {PERSON:Priya Raman}, your ticket #48213 was escalated.",
    "Please draft a reply to Mrs. {PERSON:Helen McAllister} explaining the delay.",
    "{\"customer_name\": \"{PERSON:Lucas Moreau}\", \"contact\": \"{EMAIL:lucas.moreau@example.fr}\", \"plan\": \"pro\"}",
    "patient DOB: {DATE_OF_BIRTH:1984-07-19}, passport {GOV_ID:K8821937}, needs the form translated",
    "IPv6 {IP_ADDRESS:2001:db8:85a3::8a2e:370:7334} is blocked by the firewall rule, why?",
    "SSN on file is {US_SSN:078-62-1144}? please mask it in the export",
    "Kindly wire to {IBAN:GB33 BUKB 2020 1555 5555 55} and confirm.",
    "Call me back on {PHONE:020 7946 0321} tomorrow morning.",
    "Email from {EMAIL:support-escalations@acme-widgets.io} says the SLA is breached.",
    # --- no PII: must come out untouched ---------------------------------------------------
    "Request id 123e4567-e89b-12d3-a456-426614174000 failed with HTTP 503 after 30000 ms.",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 broke the build on node v18.17.1",
    "Upgrade from 1.2.3 to 2.0.0-rc.1 changed the default port from 8080 to 8443.",
    "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "2024-03-15T10:30:00Z INFO worker[4127] processed 1048576 bytes in 0.042s",
    "docker run -p 5432:5432 -e POSTGRES_DB=app postgres:16.2",
    "kubectl get pods -n payments --field-selector=status.phase=Failed",
    "Error: connect ECONNREFUSED 127.0.0.1:6379 at TCPConnectWrapper.afterConnect",
    "SELECT id, created_at FROM orders WHERE total > 100.00 AND region = 'eu-west-1' LIMIT 50;",
    "The p99 latency went from 120 ms to 480 ms between build 20240311.4 and 20240312.1",
    "fn main() { let v: Vec<u64> = (0..1_000_000).collect(); println!(\"{}\", v.len()); }",
    "Set the timeout to 3600 seconds and retry 5 times with jitter 0.25.",
    "version: '3.8'\nservices:\n  web:\n    image: nginx:1.25.3\n    ports:\n      - \"80:80\"",
    "Our Q3 roadmap: migrate auth to OIDC, shard the events table, and drop Python 3.8.",
    "Can you explain what a mutex is and when I would use RwLock instead?",
    "ETag: \"33a64df551425fcc55e4d42a148795d9f25f89d4\" Cache-Control: max-age=31536000",
    "Unix time 1710498600 is 2024-03-15; convert it in JavaScript.",
    "Order #100234 shipped in 3 boxes weighing 12.5 kg total.",
    "Use ISBN 978-0-13-468599-1 in the bibliography.",
    "name: Build and test\non:\n  push:\n    branches: [ main ]",
    "Use Visual Studio Code with the Rust Analyzer extension and enable Format On Save.",
    "Deploy the service to Google Cloud Run in the Frankfurt region behind Cloud Armor.",
    "The Apache Kafka consumer group lags behind; Spring Boot logs show RebalanceInProgressException.",
    "Our Customer Success team uses Zendesk Support and Salesforce Service Cloud.",
    "Write a GitHub Actions workflow that runs Cargo Clippy and Cargo Test on Ubuntu Latest.",
    "In React Native, why does the Flat List re-render when the Redux Store updates?",
    "Explain the difference between Azure Active Directory and Amazon Cognito for B2B login.",
    "The Terraform plan wants to destroy the Route 53 record for the Load Balancer.",
    "Translate this error from Pandas: KeyError 'Unnamed: 0' when reading the CSV export.",
    "Summarise the Q4 Board Review deck for the Executive Team in five bullet points.",
]


def build(template):
    text, spans, pos = "", [], 0
    for m in re.finditer(r"\{([A-Z_]+):((?:[^{}]|\{[^{}]*\})*?)\}(?=[^}]|$)", template):
        text += template[pos:m.start()]
        start = len(text)
        text += m.group(2)
        spans.append({"start": start, "end": len(text), "type": m.group(1), "value": m.group(2)})
        pos = m.end()
    text += template[pos:]
    return text, spans


for i, t in enumerate(PROMPTS):
    text, spans = build(t)
    print(json.dumps({"id": i, "text": text, "spans": spans}, ensure_ascii=False))
