import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import Settings from "./Settings.svelte";
import { fakeBackend } from "../../lib/test-setup";

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("settings", () => {
  it("saves the user's autostart and notification choices", async () => {
    const backend = fakeBackend();
    render(Settings);
    const autostart = (await screen.findByTestId("autostart")) as HTMLInputElement;
    expect(autostart.checked).toBe(true);
    await fireEvent.click(autostart);
    await fireEvent.click(screen.getByTestId("notifications"));
    await screen.findByTestId("settings");
    expect(backend.state.autostart).toBe(false);
    expect(backend.state.notifications).toBe(false);
    expect(screen.getByText("/home/ada/.local/share/certgate")).toBeTruthy();
  });

  it("shows a managed setting locked with the organisation's reason", async () => {
    fakeBackend({ autostartLocked: true });
    render(Settings);
    const autostart = (await screen.findByTestId("autostart")) as HTMLInputElement;
    expect(autostart.disabled).toBe(true);
    expect(screen.getByTestId("autostart-lock").textContent).toContain("Set by your organisation");
  });

  it("says what is wrong with an invalid managed configuration", async () => {
    fakeBackend({ managedProblem: "managed configuration is invalid: proxyPort 80 — enrolment is refused until IT fixes it" });
    render(Settings);
    expect((await screen.findByTestId("managed-problem")).textContent).toContain("enrolment is refused");
  });

  it("checks for updates and offers a restart once a verified one is installed", async () => {
    const backend = fakeBackend({ update: "installed" });
    render(Settings);
    expect((await screen.findByTestId("update-message")).textContent).toContain("Not checked yet");
    await fireEvent.click(screen.getByTestId("update-check"));
    expect((await screen.findByTestId("update-restart")).textContent).toContain("Restart");
    expect(screen.getByTestId("update-message").textContent).toContain("0.1.1 is installed");
    expect(backend.state.updateChecks).toBe(1);
    await fireEvent.click(screen.getByTestId("update-restart"));
    await screen.findByTestId("updates");
    expect(backend.state.restarted).toBe(1);
  });

  it("says why an update was refused, as an alert", async () => {
    fakeBackend({ update: "refused" });
    render(Settings);
    await fireEvent.click(await screen.findByTestId("update-check"));
    const message = await screen.findByText(/was refused/);
    expect(message.getAttribute("role")).toBe("alert");
    expect(message.textContent).toContain("another key");
  });
});
