import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import AccessCard from "./AccessCard.svelte";
import { fakeBackend } from "../../lib/test-setup";

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("copilot access card", () => {
  it("says why access is refused and what to do, with the proxy address and key", async () => {
    fakeBackend();
    render(AccessCard);
    const state = await screen.findByTestId("access-state");
    expect(state.dataset.state).toBe("blocked");
    const reasons = screen.getByTestId("access-reasons").textContent ?? "";
    expect(reasons).toContain("no passed AI_CONSUMER_EXTERNAL certification");
    expect(reasons).toContain("finish the training and pass the quiz");
    expect(screen.getByTestId("proxy-url").textContent).toBe("http://127.0.0.1:8787");
    expect(screen.getByTestId("proxy-key").textContent).toBe("cg-demo-0123456789abcdef");
    // No snippets until access is ready: they would not work yet.
    expect(screen.queryByText("Point your tools at the proxy")).toBeNull();
  });

  it("when ready, shows snippets with the address and key, and Sync now calls the backend", async () => {
    const backend = fakeBackend({ firewallOk: true });
    backend.state.passed = true;
    render(AccessCard);
    expect((await screen.findByTestId("access-state")).dataset.state).toBe("ready");
    const snippet = screen.getByText(/base_url="http:\/\/127\.0\.0\.1:8787\/v1"/);
    expect(snippet.textContent).toContain('api_key="cg-demo-0123456789abcdef"');
    await fireEvent.click(screen.getByRole("button", { name: "Sync now" }));
    await screen.findByRole("button", { name: "Sync now" });
    expect(backend.state.synced).toBe(1);
  });

  it("in demo mode a simulated compliant device clears the posture reason", async () => {
    const backend = fakeBackend();
    backend.state.passed = true;
    render(AccessCard);
    expect((await screen.findByTestId("access-state")).dataset.state).toBe("blocked");
    expect(screen.getByTestId("access-reasons").textContent).toContain("device.firewall is false");
    await fireEvent.click(screen.getByLabelText("Simulate a compliant device (demo only)"));
    await screen.findByText("Point your tools at the proxy");
    expect(backend.state.simulated).toBe(true);
    expect(screen.getByTestId("access-state").dataset.state).toBe("ready");
  });

  it("turning access off says so with the reason and the way back; on again restores it", async () => {
    const backend = fakeBackend({ firewallOk: true });
    backend.state.passed = true;
    render(AccessCard);
    expect((await screen.findByTestId("access-state")).dataset.state).toBe("ready");
    await fireEvent.click(screen.getByLabelText("Copilot access on"));
    await screen.findByText(/you turned copilot access off/);
    expect(backend.state.accessOff).toBe(true);
    expect(screen.getByTestId("access-state").dataset.state).toBe("off");
    expect(screen.getByTestId("access-reasons").textContent).toContain("tray menu");
    expect((screen.getByLabelText("Copilot access on") as HTMLInputElement).checked).toBe(false);
    await fireEvent.click(screen.getByLabelText("Copilot access on"));
    await screen.findByText("Point your tools at the proxy");
    expect(backend.state.accessOff).toBe(false);
  });

  it("says why when the proxy could not start", async () => {
    fakeBackend({ accessState: "unavailable" });
    render(AccessCard);
    expect((await screen.findByTestId("access-state")).dataset.state).toBe("unavailable");
    expect(screen.getByTestId("access-notice").textContent).toContain("port in use");
    expect(screen.queryByRole("button", { name: "Sync now" })).toBeNull();
  });
});
