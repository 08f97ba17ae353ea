// A stateful stand-in for the Rust commands, shared by the vitest screen tests (through
// mockIPC) and the browser tests (injected into the built page as window.__TAURI_INTERNALS__).
// Plain JS with no imports so both can load it. Shapes follow ui/src/lib/bindings.

export function createBackend(options = {}) {
  const now = "2026-11-27T10:00:00Z";
  const fact = (name, ok, required, fixHint = null) => ({
    name, state: ok ? "ok" : "fail", ok, required, evidence: [ok ? `${name} is on` : `${name} is off`],
    fixHint: ok ? null : fixHint,
  });
  const state = {
    firewallOk: options.firewallOk ?? false,
    checks: 0,
    progress: {},
    attempts: 0,
    attemptsAllowed: options.attemptsAllowed ?? 3,
    passed: false,
    answers: {},
    signed: null,
    synced: 0,
    simulated: false,
    accessOff: false,
    autostart: true,
    exceptions: {},
    chats: [],
    decisions: {},
    notifications: true,
    updateChecks: 0,
    update: { state: "notChecked", message: "Not checked yet.", checkedAt: null },
    activity: options.activity ?? [],
    calls: [],
  };
  const modules = [
    { id: "GOV-101", title: "Why AI access is governed", minutes: 5,
      body: "# Why\n\nIntro text.\n\n## Data\n\nNever paste **customer data**. <script>alert(1)</script>\n\n## Tools\n\nUse the approved tools." },
    { id: "GOV-102", title: "Safe prompting", minutes: 4, body: "# Prompting\n\nKeep prompts free of secrets.\n\n## Review\n\nCheck outputs." },
  ];
  const questions = [
    { id: "Q1", kind: "single", scenario: null, prompt: "Where may customer data go?",
      options: [{ id: "a", text: "Into any chatbot" }, { id: "b", text: "Only through the governed proxy" }],
      correct: ["b"], explanation: "The proxy redacts customer data before it leaves." },
    { id: "Q2", kind: "trueFalse", scenario: "A colleague asks for your API key.", prompt: "You may share your proxy key.",
      options: [], value: false, explanation: "Keys are personal." },
  ];
  const updates = () => ({
    currentVersion: "0.1.0", server: "https://certgate.example.org", ...state.update,
  });
  const posture = () => ({
    compliant: state.firewallOk, pending: false, platform: "linux", collectedAt: now,
    facts: [
      fact("diskEncryption", true, true),
      fact("firewall", state.firewallOk, true, "Enable a firewall: `sudo ufw enable`."),
      fact("screenLock", true, true),
      fact("edr", true, false),
    ],
  });
  const cert = () => state.passed
    ? { track: "AI_CONSUMER_EXTERNAL", status: "passed", label: "passed (pending verification)", certified: true, verified: false, expiresAt: "2027-11-27T10:00:00Z", attemptsLeft: null, retryAt: null }
    : state.attempts >= state.attemptsAllowed
      ? { track: "AI_CONSUMER_EXTERNAL", status: "locked", label: "locked", certified: false, verified: false, expiresAt: null, attemptsLeft: 0, retryAt: null }
      : state.attempts > 0
        ? { track: "AI_CONSUMER_EXTERNAL", status: "failed", label: `failed (${state.attemptsAllowed - state.attempts} attempt(s) left)`, certified: false, verified: false, expiresAt: null, attemptsLeft: state.attemptsAllowed - state.attempts, retryAt: null }
        : { track: "AI_CONSUMER_EXTERNAL", status: "notStarted", label: "not started", certified: false, verified: false, expiresAt: null, attemptsLeft: null, retryAt: null };
  const summaryOf = (m) => ({
    id: m.id, title: m.title, minutes: m.minutes,
    read: Boolean(state.progress[m.id]?.completed), position: state.progress[m.id]?.position ?? 0,
  });
  const ack = () => ({
    id: "AUP", title: "Acceptable use", version: "1.0.0",
    body: "# Acceptable use\n\nI will use AI tools only through Certgate.",
    needsSignature: state.signed === null, signed: state.signed,
  });
  const fail = (code, message) => { throw { code, message }; };
  const setting = (value, locked) => locked
    ? { value, origin: "managed", lockedBy: { source: { kind: "toml", path: "/etc/certgate/managed.toml" },
      reason: "Set by your organisation (/etc/certgate/managed.toml); ask IT to change it." } }
    : { value, origin: "default", lockedBy: null };
  const settings = () => ({
    effective: {
      serverUrl: setting(null, false), orgKey: setting(null, false), enrolmentMode: setting("open", false),
      proxyPort: setting(8787, false), autostart: setting(state.autostart, Boolean(options.autostartLocked)),
      usageTelemetry: setting(false, false), managedProblem: options.managedProblem ?? null,
    },
    notifications: state.notifications, dataDir: "/home/ada/.local/share/certgate", problem: null,
  });
  const access = () => {
    const ready = (state.firewallOk || state.simulated) && state.passed;
    const reasons = [];
    if (state.accessOff) reasons.push({ message: "copilot access is turned off on this device", fix: "turn it on from the Certgate tray menu (Copilot access)" });
    if (!state.passed) reasons.push({ message: "no passed AI_CONSUMER_EXTERNAL certification", fix: "finish the training and pass the quiz" });
    if (!state.firewallOk && !state.simulated) reasons.push({ message: "device.firewall is false", fix: "turn the firewall on" });
    return {
      state: options.accessState ?? (state.accessOff ? "off" : ready ? "ready" : "blocked"),
      proxyUrl: "http://127.0.0.1:8787", apiKey: "cg-demo-0123456789abcdef", toolSurface: "developer-sdk",
      reasons: ready && !state.accessOff ? [] : reasons, requestsToday: state.activity.length,
      refusedToday: state.activity.filter((a) => a.decision !== "allowed").length, demo: true,
      simulatedPosture: state.simulated,
      notice: options.accessState === "unavailable" ? "the proxy could not start: port in use" : null,
    };
  };
  const commands = {
    get_policy_summary: () => ({
      policyId: "demo-org-policy", sha256: "ab".repeat(32), trust: options.trust ?? "demo", source: "embedded demo",
      populations: ["contractors"], regionsAllowed: ["eu-west-1"], copilots: ["copilot"], automationEndpoints: [],
      identityProvider: "demo", tracks: [], conditions: [],
    }),
    get_dashboard: () => {
      const ready = state.firewallOk && state.passed;
      return {
        demo: true,
        overall: !state.firewallOk ? "blocked" : ready ? "ready" : "action-needed",
        overallLabel: "",
        nextAction: !state.firewallOk ? "fix-posture" : !state.passed ? "train" : state.signed ? "nothing" : "sign-acknowledgement",
        certifications: [cert()], posture: posture(), acknowledgementNeeded: state.signed === null,
      };
    },
    get_posture: () => posture(),
    take_pending_screen: () => state.pendingScreen ?? null,
    enroll_device: ({ server, code }) => {
      if (code !== "ABCD-1234") {
        fail("enrolment", `the server refused the code: it is unknown or was already used (${server})`);
      }
      state.enrolled = server;
      return { serverUrl: server, userId: "ada@partner.example", deviceId: "dev-1", policyId: "acme-ai-gate", courseInstalled: true };
    },
    take_enrolment_link: () => { const l = state.link ?? null; state.link = null; return l; },
    restart_app: () => { state.restarted = (state.restarted ?? 0) + 1; return null; },
    get_access: () => access(),
    sync_now: () => { state.synced += 1; return access(); },
    simulate_compliant_device: ({ on }) => { state.simulated = Boolean(on); return access(); },
    set_access_enabled: ({ on }) => { state.accessOff = !on; return access(); },
    get_activity: () => state.activity,
    get_settings: () => settings(),
    get_updates: () => updates(),
    check_for_updates: () => {
      state.updateChecks += 1;
      const outcome = options.update ?? "upToDate";
      const messages = {
        upToDate: "Certgate 0.1.0 is the newest version.",
        installed: "Certgate 0.1.1 is installed: restart Certgate to use it.",
        refused: "The update to 0.1.1 was refused: it is signed with another key than this app's update key. Certgate 0.1.0 keeps running; tell your IT team.",
      };
      state.update = { state: outcome, message: messages[outcome], checkedAt: now };
      return updates();
    },
    chat_send: ({ turns, onText }) => {
      const last = turns[turns.length - 1].content;
      const id = `req-${state.chats.length + 1}`;
      state.chats.push({ id, turns });
      if (/AKIA[0-9A-Z]{16}/.test(last)) {
        return { requestId: id, text: "", approvalRequired: false, pseudonymized: [],
          refused: { status: 422, message: "Certgate blocked this request: it contains SECRET. Remove them and try again; nothing was sent." } };
      }
      const text = `You said: ${last}`;
      for (let i = 0; i < text.length; i += 5) onText?.onmessage?.(text.slice(i, i + 5));
      return { requestId: id, text, approvalRequired: /unsure/.test(last), refused: null,
        pseudonymized: /@/.test(last) ? [{ kind: "EMAIL", count: 1 }] : [] };
    },
    chat_decide: ({ requestId, approved }) => { state.decisions[requestId] = approved; return null; },
    get_exception_form: () => ({
      allowed: true, tracks: ["AI_CONSUMER_EXTERNAL", "AI_BUILDER_EXTERNAL"],
      fields: ["vendorName", "ticketOrProjectId", "dataSensitivity", "compensatingControls"],
      maxDurationDays: 7, approverRoles: ["FunctionalOwner", "Security"], toolSurface: "developer-sdk",
    }),
    request_exception: ({ input }) => {
      const missing = ["vendorName", "ticketOrProjectId", "dataSensitivity", "compensatingControls"]
        .filter((f) => !input.justification[f]);
      if (missing.length) fail("access", `the server refused the exception request: missing justification ${missing.join(", ")}`);
      if (input.durationDays > 7) fail("access", "the server refused the exception request: durationDays exceeds maxDurationDays 7");
      const id = `ex-${Object.keys(state.exceptions).length + 1}`;
      state.exceptions[id] = { id, track: input.track, tool: "developer-sdk", state: "pending", approvals: [],
        missingRoles: ["FunctionalOwner", "Security"], justification: input.justification };
      const { justification, ...view } = state.exceptions[id];
      return view;
    },
    get_exception: ({ id }) => { const { justification, ...view } = state.exceptions[id]; return view; },
    approve_exception_demo: ({ id }) => {
      const e = state.exceptions[id];
      e.state = "approved";
      e.approvals = [{ role: "FunctionalOwner", approver: "demo FunctionalOwner" }, { role: "Security", approver: "demo Security" }];
      e.missingRoles = [];
      const { justification, ...view } = e;
      return view;
    },
    set_autostart: ({ on }) => {
      if (options.autostartLocked) fail("settings", "Set by your organisation (/etc/certgate/managed.toml); ask IT to change it.");
      state.autostart = Boolean(on);
      return settings();
    },
    set_notifications: ({ on }) => { state.notifications = Boolean(on); return settings(); },
    recheck_posture: () => { state.checks += 1; if (options.fixOnRecheck) state.firewallOk = true; return posture(); },
    list_tracks: () => [{
      id: "AI_CONSUMER_EXTERNAL", certification: cert(), minScorePct: 85, attemptsAllowed: state.attemptsAllowed,
      questions: questions.length, modules: modules.map(summaryOf),
    }],
    get_module: ({ id }) => {
      const m = modules.find((x) => x.id === id) ?? fail("not-found", `no module ${id}`);
      return { ...summaryOf(m), track: "AI_CONSUMER_EXTERNAL", version: "1.0.0", body: m.body };
    },
    save_progress: ({ progress }) => {
      const before = state.progress[progress.moduleId];
      state.progress[progress.moduleId] = { position: progress.position, completed: Boolean(before?.completed || progress.completed) };
      return summaryOf(modules.find((x) => x.id === progress.moduleId));
    },
    start_attempt: () => {
      if (state.attempts >= state.attemptsAllowed) fail("attempt-blocked", "all 3 allowed attempt(s) failed, so the track is locked: request an exception");
      state.answers = {};
      return { track: "AI_CONSUMER_EXTERNAL", minScorePct: 85,
        questions: questions.map(({ correct, value, explanation, ...shown }) => shown) };
    },
    answer_question: ({ answer }) => {
      const q = questions.find((x) => x.id === answer.questionId);
      if (state.answers[q.id] !== undefined) fail("invalid-answer", "this question is already answered");
      const right = q.kind === "trueFalse" ? answer.value === q.value
        : answer.optionIds.length === q.correct.length && answer.optionIds.every((o) => q.correct.includes(o));
      state.answers[q.id] = right;
      return { questionId: q.id, correct: right, credit: right ? 1 : 0, correctOptionIds: q.correct ?? [],
        correctValue: q.kind === "trueFalse" ? q.value : null, explanation: q.explanation };
    },
    submit_attempt: () => {
      const raw = Object.values(state.answers).filter(Boolean).length;
      const pct = (raw / questions.length) * 100;
      const passed = pct >= 85;
      state.attempts += passed ? 0 : 1;
      state.passed = state.passed || passed;
      const c = cert();
      return { attemptId: `att-${state.attempts}`, scorePct: pct, raw, max: questions.length, minScorePct: 85, passed,
        certification: c,
        blockedMessage: c.status === "locked" ? "all 3 allowed attempt(s) failed, so the track is locked: request an exception from your manager" : null };
    },
    get_acknowledgement: () => ack(),
    sign_acknowledgement: ({ fullName }) => {
      if (fullName.trim().length < 2) fail("name-required", "type your full name to sign (at least 2 letters)");
      state.signed = { fullName: fullName.trim(), version: "1.0.0", signedAt: now };
      return ack();
    },
  };
  function handle(cmd, args = {}) {
    state.calls.push(cmd);
    if (cmd.startsWith("plugin:event|")) return 1;
    const fn = commands[cmd];
    if (!fn) fail("internal", `unexpected command ${cmd}`);
    return fn(args);
  }
  return { handle, state };
}

/** Installs the fake as Tauri's IPC in a plain browser page (what mockIPC does in vitest). */
export function installInBrowser(options) {
  const backend = createBackend(options);
  let next = 1;
  window.__TAURI_INTERNALS__ = {
    metadata: { currentWindow: { label: "main" }, currentWebview: { windowLabel: "main", label: "main" } },
    transformCallback: () => next++,
    invoke: async (cmd, args) => {
      // A little latency, like the real IPC, so the UI's busy states are exercised.
      await new Promise((r) => setTimeout(r, 5));
      return backend.handle(cmd, args);
    },
  };
  window.__fakeBackend = backend;
}
