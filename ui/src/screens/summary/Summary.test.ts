import { afterEach, describe, expect, it } from "vitest";
import { cleanup, render, screen } from "@testing-library/svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import App from "../../App.svelte";
import type { PolicySummary } from "../../lib/ipc";

function summary(trust: string): PolicySummary {
  return {
    policyId: "acme-ai-gate-v1",
    sha256: "ab".repeat(32),
    trust,
    source: "/etc/certgate/policy.yaml",
    populations: ["contractors", "vendors"],
    regionsAllowed: ["eu-west-1"],
    copilots: ["github-copilot"],
    automationEndpoints: ["https://api.example.invalid/v1"],
    identityProvider: "okta",
    tracks: [
      {
        id: "AI_CONSUMER_EXTERNAL",
        modules: ["GOV-101", "GOV-102"],
        minScorePct: 80,
        attemptsAllowed: 3,
        recertifyDays: 365,
      },
    ],
    conditions: [{ name: "certified", rule: "user.certifications.contains('AI_CONSUMER_EXTERNAL')" }],
  };
}

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("summary screen", () => {
  it("asks the backend for the summary with get_policy_summary and shows it", async () => {
    const calls: string[] = [];
    mockIPC((cmd) => {
      calls.push(cmd);
      if (cmd === "get_policy_summary") return summary("signed");
      throw new Error(`unexpected command ${cmd}`);
    });
    render(App);

    expect(await screen.findByText("acme-ai-gate-v1")).toBeTruthy();
    expect(calls).toEqual(["get_policy_summary"]);
    expect(screen.getByTestId("trust").textContent).toBe("Signed by your organisation");
    expect(screen.getAllByTestId("track")).toHaveLength(1);
    expect(screen.getByText("GOV-101, GOV-102")).toBeTruthy();
    expect(screen.getByText("80%")).toBeTruthy();
    expect(screen.queryByTestId("demo-banner")).toBeNull();
  });

  it("says DEMO MODE when the backend runs on the embedded demo policy", async () => {
    mockIPC(() => summary("demo"));
    render(App);

    const banner = await screen.findByTestId("demo-banner");
    expect(banner.textContent).toContain("DEMO MODE");
  });

  it("shows the backend's error message and code when the policy failed to load", async () => {
    mockIPC(() => {
      throw { code: "policy-invalid", message: "policy.yaml:3:5: unknown key `scop`" };
    });
    render(App);

    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toContain("unknown key `scop`");
    expect(alert.textContent).toContain("policy-invalid");
  });
});
