import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import App from "../../App.svelte";
import { fakeBackend } from "../../lib/test-setup";

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("app shell and policy screen", () => {
  it("says DEMO MODE and starts with onboarding when nothing is certified", async () => {
    const backend = fakeBackend();
    render(App);
    const banner = await screen.findByTestId("demo-banner");
    expect(banner.textContent).toContain("DEMO MODE");
    expect(await screen.findByTestId("onboarding")).toBeTruthy();
    expect(backend.state.calls.slice(0, 2)).toEqual(["get_policy_summary", "get_dashboard"]);
  });

  it("shows the policy summary from get_policy_summary on the Policy tab", async () => {
    fakeBackend({ trust: "signed" });
    render(App);
    await fireEvent.click(await screen.findByRole("button", { name: "Policy" }));
    expect(await screen.findByText("demo-org-policy")).toBeTruthy();
    expect(screen.getByTestId("trust").textContent).toBe("Signed by your organisation");
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
