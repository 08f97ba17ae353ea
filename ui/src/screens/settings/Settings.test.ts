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
});
