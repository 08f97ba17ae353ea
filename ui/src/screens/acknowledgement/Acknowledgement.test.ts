import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import Acknowledgement from "./Acknowledgement.svelte";
import { fakeBackend } from "../../lib/test-setup";

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("acknowledgement", () => {
  it("refuses a blank name with the engine's message and signs with a typed full name", async () => {
    const backend = fakeBackend();
    render(Acknowledgement);
    const input = await screen.findByLabelText("Your full name");
    await fireEvent.input(input, { target: { value: " x" } });
    await fireEvent.click(screen.getByRole("button", { name: "Sign" }));
    expect((await screen.findByRole("alert")).textContent).toContain("full name");
    await fireEvent.input(input, { target: { value: "Ada Lovelace" } });
    await fireEvent.click(screen.getByRole("button", { name: "Sign" }));
    expect((await screen.findByTestId("ack-signed")).textContent).toContain("Signed by Ada Lovelace");
    expect(backend.state.signed).toMatchObject({ fullName: "Ada Lovelace" });
  });
});
