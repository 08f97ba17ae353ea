// Browser tests of the built UI (ui/dist) in Debian's headless Chromium, driven by
// playwright-core against the fake backend (no Rust, no Tauri): the onboarding flow end to end
// with the keyboard only, an axe-core accessibility check on every screen, screenshots into
// tests/artifacts/, and the screen-switch time.
//
// Run: npm --prefix ui run build && node ui/tests/browser.mjs   (exits 1 on any failure)
import { createServer } from "node:http";
import { readFile, mkdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(here, "../dist");
const artifacts = resolve(here, "../../tests/artifacts");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];

const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml" };

function serve() {
  const server = createServer(async (req, res) => {
    const path = join(dist, req.url === "/" ? "index.html" : decodeURIComponent(req.url.split("?")[0]));
    let body;
    try {
      body = await readFile(path);
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" });
    res.end(body);
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

let failures = 0;
async function test(name, fn) {
  const started = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    failures += 1;
    console.log(`FAIL ${name}\n     ${err.stack ?? err}`);
  }
}
function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** Text that names the focused element (its label, or its own text). */
async function focusedName(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return "";
    if (el.labels && el.labels.length) return el.labels[0].textContent.trim();
    return (el.getAttribute("aria-label") ?? el.textContent ?? "").trim();
  });
}

/** Presses Tab (and, inside a radio group, arrow keys) until the focus is on `name`. */
async function tabTo(page, name, max = 80) {
  const matches = (n) => (name instanceof RegExp ? name.test(n) : n === name);
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press("Tab");
    let current = await focusedName(page);
    if (matches(current)) return;
    const isRadio = await page.evaluate(() => document.activeElement?.type === "radio");
    if (isRadio) {
      for (let j = 0; j < 6 && !matches(current); j += 1) {
        await page.keyboard.press("ArrowDown");
        current = await focusedName(page);
      }
      if (matches(current)) return;
    }
  }
  throw new Error(`keyboard focus never reached ${name}`);
}

async function press(page, name, key = "Enter") {
  await tabTo(page, name);
  await page.keyboard.press(key);
}

/** Waits until the reader has saved its position and moved the focus to the new section: tabbing
 * before that races the reader's own focus move, and Enter would land on the text, not a button. */
async function readerSettled(page) {
  await page.waitForFunction(() => document.activeElement?.dataset?.testid === "module-body");
}

async function axe(page, label) {
  await page.addScriptTag({ path: resolve(here, "../node_modules/axe-core/axe.min.js") });
  const result = await page.evaluate(() =>
    window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  const problems = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  assert(problems.length === 0, `axe on ${label}:\n     ${problems.join("\n     ")}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `ui-${name}.png`), fullPage: true });
}

async function main() {
  assert(existsSync(join(dist, "index.html")), "ui/dist is missing: run `npm --prefix ui run build` first");
  await mkdir(artifacts, { recursive: true });
  const fake = (await readFile(join(here, "fake-backend.js"), "utf8")).replace(/^export /gm, "");
  const server = await serve();
  const url = `http://127.0.0.1:${server.address().port}/`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  const open = async (options = {}) => {
    const page = await browser.newPage({ viewport: { width: 980, height: 720 } });
    await page.addInitScript(`${fake}\ninstallInBrowser(${JSON.stringify(options)});`);
    await page.goto(url);
    await page.getByTestId("onboarding").or(page.getByTestId("screen-title")).first().waitFor();
    return page;
  };

  await test("onboarding end to end with the keyboard only, accessible at every step", async () => {
    const page = await open();
    const step = () => page.getByTestId("step-title").textContent();
    await axe(page, "onboarding: organisation");
    await shot(page, "1-onboarding");
    await press(page, "Use the demo organisation");
    assert((await step()).includes("Step 2 of 6"), await step());
    await page.getByTestId("fact").first().waitFor();
    await axe(page, "onboarding: posture");
    await shot(page, "2-posture");
    await press(page, "Check again");
    await page.waitForFunction(() => window.__fakeBackend.state.checks === 1);
    await press(page, /^Continue/);
    await page.getByTestId("open-module").first().waitFor();
    await press(page, "Why AI access is governed");
    await page.getByTestId("module-body").waitFor();
    await axe(page, "training reader");
    await press(page, "Next section");
    await readerSettled(page);
    await page.getByText("customer data").waitFor();
    assert((await page.locator("[data-testid=module-body] script").count()) === 0, "raw HTML in Markdown is escaped");
    await shot(page, "3-reader");
    await press(page, "Next section");
    await readerSettled(page);
    await press(page, "Finish module");
    await page.getByTestId("module-read").waitFor();
    await press(page, "Back to the modules");
    await press(page, "Take the AI_CONSUMER_EXTERNAL quiz");
    await press(page, "Start the quiz");
    await page.getByText("Question 1 of 2").waitFor();
    await tabTo(page, "Only through the governed proxy");
    await page.keyboard.press("Space");
    await axe(page, "quiz question");
    await press(page, "Answer");
    await page.getByTestId("explanation").waitFor();
    await shot(page, "4-quiz-feedback");
    // The focus moves to "Next question" after answering: Enter continues.
    await page.keyboard.press("Enter");
    await page.getByText("Question 2 of 2").waitFor();
    await tabTo(page, "False");
    await page.keyboard.press("Space");
    await press(page, "Answer");
    await page.getByTestId("explanation").waitFor();
    await page.keyboard.press("Enter");
    await page.getByTestId("quiz-result").waitFor();
    assert((await page.getByTestId("quiz-result").textContent()).includes("Passed"), "the quiz is passed");
    await shot(page, "5-quiz-result");
    await press(page, "Continue");
    await page.getByLabel("Your full name").waitFor();
    await axe(page, "acknowledgement");
    await tabTo(page, "Your full name");
    await page.keyboard.type("Ada Lovelace");
    await page.keyboard.press("Enter");
    await page.getByTestId("ack-signed").waitFor();
    await shot(page, "6-acknowledgement");
    await press(page, "Continue");
    await page.getByTestId("done").waitFor();
    await axe(page, "done");
    await press(page, "Open the dashboard");
    await page.getByTestId("overall").waitFor();
    await axe(page, "dashboard");
    await shot(page, "7-dashboard");
    const calls = await page.evaluate(() => window.__fakeBackend.state.calls);
    for (const cmd of ["recheck_posture", "save_progress", "start_attempt", "answer_question", "submit_attempt", "sign_acknowledgement"]) {
      assert(calls.includes(cmd), `the flow called ${cmd}: ${calls.join(",")}`);
    }
    await page.close();
  });

  await test("Copilot, Activity, Exception and Settings are accessible, with a managed setting locked", async () => {
    const page = await open({
      firewallOk: true, autostartLocked: true,
      activity: [{ requestId: "r1", time: "2026-11-27T10:00:00Z", tool: "developer-sdk", decision: "blocked", status: 422,
        reasons: [], findings: [{ kind: "AWS_ACCESS_KEY", count: 1 }], approval: null, viaException: false }],
    });
    const tab = (name) => page.locator("nav button", { hasText: name }).click();
    await tab("Activity");
    await page.getByTestId("activity-row").waitFor();
    await axe(page, "activity");
    await shot(page, "8-activity");
    await tab("Copilot");
    await page.getByLabel("Your message").fill("I am unsure: mail ada@example.com");
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByTestId("approval").waitFor();
    await axe(page, "copilot chat");
    await shot(page, "10-chat");
    await tab("Exception");
    await page.getByLabel("Vendor name").waitFor();
    await axe(page, "exception request");
    await tab("Settings");
    await page.getByTestId("autostart-lock").waitFor();
    assert(await page.getByTestId("autostart").isDisabled(), "a managed setting cannot be changed");
    await page.getByRole("button", { name: "Check now" }).click();
    await page.getByText("is the newest version").waitFor();
    await axe(page, "settings");
    await shot(page, "9-settings");
    await page.close();
  });

  await test("every control shows a visible focus ring", async () => {
    const page = await open();
    await page.keyboard.press("Tab");
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert(outline !== "none", `focused control has outline ${outline}`);
    await page.close();
  });

  await test("screen switch time (Dashboard ↔ Training, median of 20)", async () => {
    const page = await open({ firewallOk: true });
    const times = await page.evaluate(async () => {
      const byName = (n) => [...document.querySelectorAll("nav button")].find((b) => b.textContent.trim() === n);
      const title = () => document.querySelector("[data-testid=screen-title]")?.textContent.trim();
      const out = [];
      for (let i = 0; i < 20; i += 1) {
        const to = i % 2 ? "Dashboard" : "Training";
        const t0 = performance.now();
        byName(to).click();
        while (title() !== to) await new Promise((r) => setTimeout(r, 0));
        await new Promise((r) => requestAnimationFrame(() => r()));
        out.push(performance.now() - t0);
      }
      return out.sort((a, b) => a - b);
    });
    const median = times[10];
    console.log(`     screen switch: median ${median.toFixed(1)} ms, max ${times[19].toFixed(1)} ms (target ≤ 100 ms)`);
    assert(median <= 100, `median screen switch ${median} ms`);
    await page.close();
  });

  await browser.close();
  server.close();
  if (failures) {
    console.log(`${failures} browser test(s) failed`);
    process.exit(1);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
