import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import Onboarding from "./Onboarding.svelte";
import { fakeBackend } from "../../lib/test-setup";

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("onboarding wizard", () => {
  it("walks demo org → posture → training → quiz → acknowledgement → done", async () => {
    let done = false;
    fakeBackend();
    render(Onboarding, { track: "AI_CONSUMER_EXTERNAL", ondone: () => (done = true) });
    const title = () => screen.getByTestId("step-title").textContent;
    await fireEvent.click(screen.getByRole("button", { name: "Use the demo organisation" }));
    expect(title()).toContain("Step 2 of 6");
    expect(document.activeElement).toBe(screen.getByTestId("step-title"));
    await screen.findAllByTestId("fact");
    await fireEvent.click(screen.getByRole("button", { name: /Continue \(access stays blocked/ }));
    await fireEvent.click(await screen.findByRole("button", { name: "Take the AI_CONSUMER_EXTERNAL quiz" }));
    expect(title()).toContain("Quiz");
    await fireEvent.click(await screen.findByRole("button", { name: "Start the quiz" }));
    await fireEvent.click(await screen.findByLabelText("Only through the governed proxy"));
    await fireEvent.click(screen.getByRole("button", { name: "Answer" }));
    await fireEvent.click(await screen.findByRole("button", { name: "Next question" }));
    await fireEvent.click(await screen.findByLabelText("False"));
    await fireEvent.click(screen.getByRole("button", { name: "Answer" }));
    await fireEvent.click(await screen.findByRole("button", { name: "See my result" }));
    await fireEvent.click(await screen.findByRole("button", { name: "Continue" }));
    await fireEvent.input(await screen.findByLabelText("Your full name"), { target: { value: "Ada Lovelace" } });
    await fireEvent.click(screen.getByRole("button", { name: "Sign" }));
    await fireEvent.click(await screen.findByRole("button", { name: "Continue" }));
    expect(await screen.findByTestId("done")).toBeTruthy();
    await fireEvent.click(screen.getByRole("button", { name: "Open the dashboard" }));
    expect(done).toBe(true);
  });

  it("enrols with the org server and its one-time code, says what failed, then offers the restart", async () => {
    const backend = fakeBackend();
    render(Onboarding, { track: "AI_CONSUMER_EXTERNAL", ondone: () => {} });
    await fireEvent.input(screen.getByLabelText("Organisation server"), { target: { value: "https://certgate.acme.example" } });
    await fireEvent.input(screen.getByLabelText("One-time enrolment code"), { target: { value: "WRONG" } });
    await fireEvent.submit(screen.getByTestId("enrol-form"));
    expect((await screen.findByTestId("enrol-error")).textContent).toContain("refused the code");
    await fireEvent.input(screen.getByLabelText("One-time enrolment code"), { target: { value: "ABCD-1234" } });
    await fireEvent.submit(screen.getByTestId("enrol-form"));
    const enrolled = await screen.findByTestId("enrolled");
    expect(enrolled.textContent).toContain("https://certgate.acme.example as ada@partner.example");
    expect(enrolled.textContent).toContain("acme-ai-gate");
    expect(screen.queryByTestId("enrol-error")).toBeNull();
    await fireEvent.click(screen.getByRole("button", { name: "Restart Certgate now" }));
    expect(backend.state.restarted).toBe(1);
  });

  it("an enrolment link fills both fields; a refused one says why and fills nothing", async () => {
    const backend = fakeBackend();
    backend.state.link = { server: "https://certgate.acme.example", code: "AbCdEfGhIjKlMnOpQrSt", refused: null };
    render(Onboarding, { track: "AI_CONSUMER_EXTERNAL", ondone: () => {} });
    await screen.findByDisplayValue("https://certgate.acme.example");
    expect((screen.getByLabelText("One-time enrolment code") as HTMLInputElement).value).toBe("AbCdEfGhIjKlMnOpQrSt");
    cleanup();

    backend.state.link = { server: null, code: null, refused: "enrolment is managed: this device may only enrol with https://certgate.other.example" };
    render(Onboarding, { track: "AI_CONSUMER_EXTERNAL", ondone: () => {} });
    expect((await screen.findByTestId("link-refused")).textContent).toContain("certgate.other.example");
    expect((screen.getByLabelText("Organisation server") as HTMLInputElement).value).toBe("");
  });
});
