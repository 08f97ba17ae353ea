import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import Chat from "./Chat.svelte";
import { fakeBackend } from "../../lib/test-setup";

afterEach(() => {
  cleanup();
  clearMocks();
});

async function say(text: string) {
  await fireEvent.input(screen.getByLabelText("Your message"), { target: { value: text } });
  await fireEvent.click(screen.getByRole("button", { name: "Send" }));
}

describe("copilot chat", () => {
  it("shows the streamed answer and what was replaced, by type only", async () => {
    const backend = fakeBackend();
    render(Chat);
    await say("mail ada@example.com");
    const turns = await screen.findAllByTestId("turn");
    expect(turns.map((t) => t.dataset.role)).toEqual(["user", "assistant"]);
    expect((await screen.findByText("You said: mail ada@example.com")).tagName).toBe("P");
    expect(screen.getByTestId("pseudonymized").textContent).toBe("Replaced before sending: EMAIL × 1.");
    // The next turn sends the conversation so far.
    await say("thanks");
    await screen.findByText("You said: thanks");
    expect(backend.state.chats[1].turns.map((t) => t.role)).toEqual(["user", "assistant", "user"]);
  });

  it("asks a person to approve a low-confidence answer and records the decision", async () => {
    const backend = fakeBackend();
    render(Chat);
    await say("I am unsure about this");
    await screen.findByTestId("approval");
    await fireEvent.click(screen.getByRole("button", { name: "Reject" }));
    expect(await screen.findByText("You rejected this answer.")).toBeTruthy();
    expect(backend.state.decisions["req-1"]).toBe(false);
  });

  it("shows a refusal with the proxy's reason and leaves it out of the next turn", async () => {
    const backend = fakeBackend();
    render(Chat);
    await say("deploy with AKIAZ3MSJV4WWNKWW5FQ");
    expect((await screen.findByTestId("refusal")).textContent).toContain("nothing was sent");
    await say("hello");
    await screen.findByText("You said: hello");
    expect(backend.state.chats[1].turns.map((t) => t.role)).toEqual(["user", "user"]);
  });
});
