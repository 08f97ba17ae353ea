import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import Quiz from "./Quiz.svelte";
import { fakeBackend } from "../../lib/test-setup";

afterEach(() => {
  cleanup();
  clearMocks();
});

async function answerAll(right: boolean) {
  await fireEvent.click(await screen.findByLabelText(right ? "Only through the governed proxy" : "Into any chatbot"));
  await fireEvent.click(screen.getByRole("button", { name: "Answer" }));
  expect((await screen.findByTestId("explanation")).textContent).toContain("redacts");
  await fireEvent.click(screen.getByRole("button", { name: "Next question" }));
  await fireEvent.click(await screen.findByLabelText(right ? "False" : "True"));
  await fireEvent.click(screen.getByRole("button", { name: "Answer" }));
  await screen.findByTestId("explanation");
  await fireEvent.click(screen.getByRole("button", { name: "See my result" }));
  return screen.findByTestId("quiz-result");
}

describe("quiz", () => {
  it("shows one question at a time, the explanation after answering, then score and pass", async () => {
    fakeBackend();
    render(Quiz, { track: "AI_CONSUMER_EXTERNAL" });
    await fireEvent.click(await screen.findByRole("button", { name: "Start the quiz" }));
    expect(await screen.findByText("Question 1 of 2")).toBeTruthy();
    expect(screen.queryByText("You may share your proxy key.")).toBeNull();
    expect(screen.queryByTestId("explanation")).toBeNull();
    const result = await answerAll(true);
    expect(result.textContent).toContain("Passed");
    expect(screen.getByText(/Score 100%/)).toBeTruthy();
  });

  it("counts attempts down and shows the lock message when none are left", async () => {
    fakeBackend({ attemptsAllowed: 1 });
    render(Quiz, { track: "AI_CONSUMER_EXTERNAL" });
    await fireEvent.click(await screen.findByRole("button", { name: "Start the quiz" }));
    const result = await answerAll(false);
    expect(result.textContent).toContain("Not passed");
    expect(screen.getByTestId("attempts-left").textContent).toBe("0 attempt(s) left");
    expect(screen.getByTestId("lock-message").textContent).toContain("request an exception");
    expect(screen.queryByRole("button", { name: "Try again" })).toBeNull();
  });
});
