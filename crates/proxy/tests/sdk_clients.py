"""Official OpenAI and Anthropic Python SDKs against the Certgate proxy.

Run by tests/loopback.rs (`official_sdks_and_curl`):
    python3 sdk_clients.py MODE BASE_URL KEY MOCK_URL
MODE `allowed`: an email is pseudonymized upstream and restored for the client (streaming and
not, both SDKs, chat/responses/embeddings/messages); an AWS key is refused with 422 and the mock
receives nothing. MODE `denied`: every call is refused with 403 and the mock receives nothing.
Prints `N passed, 0 failed` and exits 0, or exits 1 on the first failure.
"""
import json
import sys
import urllib.request

import anthropic
import openai

MODE, BASE, KEY, MOCK = sys.argv[1:5]
EMAIL = "jane.roe@example.org"
AWS = "AKIAZ3MSJV4WWNKWW5FQ"
passed = 0


def mock_requests():
    with urllib.request.urlopen(MOCK + "/__mock/requests") as r:
        return json.load(r)


def clear_mock():
    req = urllib.request.Request(MOCK + "/__mock/requests", method="DELETE")
    urllib.request.urlopen(req).close()


def check(name, cond, detail=""):
    global passed
    if not cond:
        print(f"FAIL {name}: {detail}")
        print(f"{passed} passed, 1 failed")
        sys.exit(1)
    passed += 1
    print(f"ok {name}")


def nothing_left(name):
    sent = json.dumps(mock_requests())
    check(name + ": upstream never saw the email", EMAIL not in sent and AWS not in sent, sent[:300])


oa = openai.OpenAI(base_url=BASE + "/v1", api_key=KEY, max_retries=0)
an = anthropic.Anthropic(base_url=BASE, api_key=KEY, max_retries=0)
prompt = f"Please email {EMAIL} about the invoice."

if MODE == "allowed":
    clear_mock()
    r = oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
    check("openai chat restored", EMAIL in r.choices[0].message.content, r.choices[0].message.content)
    check("openai chat upstream saw a placeholder", "[EMAIL_1]" in json.dumps(mock_requests()))

    text = "".join(
        c.choices[0].delta.content or ""
        for c in oa.chat.completions.create(
            model="gpt-4o-mini", stream=True, messages=[{"role": "user", "content": prompt}]
        )
        if c.choices
    )
    check("openai chat stream restored", EMAIL in text, text)

    resp = oa.responses.create(model="gpt-4o-mini", input=prompt)
    check("openai responses restored", EMAIL in resp.output_text, resp.output_text)
    deltas = "".join(
        e.delta for e in oa.responses.create(model="gpt-4o-mini", input=prompt, stream=True)
        if e.type == "response.output_text.delta"
    )
    check("openai responses stream restored", EMAIL in deltas, deltas)

    emb = oa.embeddings.create(model="text-embedding-3-small", input=[prompt])
    check("openai embeddings", len(emb.data) == 1)

    m = an.messages.create(model="claude-x", max_tokens=64, messages=[{"role": "user", "content": prompt}])
    check("anthropic restored", EMAIL in m.content[0].text, m.content[0].text)
    with an.messages.stream(model="claude-x", max_tokens=64, messages=[{"role": "user", "content": prompt}]) as s:
        streamed = "".join(s.text_stream)
    check("anthropic stream restored", EMAIL in streamed, streamed)
    nothing_left("allowed calls")

    clear_mock()
    try:
        oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"key {AWS}"}])
        check("openai aws key blocked", False, "no error")
    except openai.UnprocessableEntityError as e:
        check("openai aws key blocked with 422", e.status_code == 422 and "SECRET" in str(e), str(e))
    try:
        an.messages.create(model="claude-x", max_tokens=8, messages=[{"role": "user", "content": f"key {AWS}"}])
        check("anthropic aws key blocked", False, "no error")
    except anthropic.UnprocessableEntityError as e:
        check("anthropic aws key blocked with 422", e.status_code == 422, str(e))
    check("blocked: mock received nothing", mock_requests() == [], json.dumps(mock_requests())[:300])

    try:
        openai.OpenAI(base_url=BASE + "/v1", api_key="wrong", max_retries=0).models.list()
        check("wrong key refused", False, "no error")
    except openai.AuthenticationError as e:
        check("wrong key refused with 401", e.status_code == 401, str(e))
elif MODE == "denied":
    clear_mock()
    try:
        oa.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
        check("openai denied", False, "no error")
    except openai.PermissionDeniedError as e:
        check("openai denied with 403 and a reason", e.status_code == 403 and "Certgate denied" in str(e), str(e))
    try:
        with an.messages.stream(model="claude-x", max_tokens=8, messages=[{"role": "user", "content": prompt}]) as s:
            "".join(s.text_stream)
        check("anthropic denied", False, "no error")
    except anthropic.PermissionDeniedError as e:
        check("anthropic stream denied with 403", e.status_code == 403, str(e))
    check("denied: mock received nothing", mock_requests() == [], json.dumps(mock_requests())[:300])
else:
    print(f"unknown mode {MODE}")
    sys.exit(2)

print(f"{passed} passed, 0 failed")
