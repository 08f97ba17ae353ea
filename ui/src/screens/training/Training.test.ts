import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import Training from "./Training.svelte";
import { fakeBackend } from "../../lib/test-setup";

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("training reader", () => {
  it("renders the Markdown with raw HTML escaped, saves progress per section and marks the module read", async () => {
    const backend = fakeBackend();
    render(Training, { onquiz: () => {} });
    await fireEvent.click((await screen.findAllByTestId("open-module"))[0]);
    const body = await screen.findByTestId("module-body");
    expect(body.querySelector("h1")?.textContent).toBe("Why");
    await fireEvent.click(screen.getByRole("button", { name: "Next section" }));
    await waitFor(() => expect(screen.getByTestId("module-body").querySelector("strong")?.textContent).toBe("customer data"));
    expect(screen.getByTestId("module-body").querySelector("script")).toBeNull();
    expect(screen.getByTestId("module-body").textContent).toContain("<script>");
    expect(backend.state.progress["GOV-101"]).toEqual({ position: 1, completed: false });
    await fireEvent.click(screen.getByRole("button", { name: "Next section" }));
    await fireEvent.click(await screen.findByRole("button", { name: "Finish module" }));
    expect(await screen.findByTestId("module-read")).toBeTruthy();
    expect(backend.state.progress["GOV-101"].completed).toBe(true);
  });

  it("resumes a module at the saved section", async () => {
    const backend = fakeBackend();
    backend.state.progress["GOV-101"] = { position: 2, completed: false };
    render(Training, { onquiz: () => {} });
    await fireEvent.click((await screen.findAllByTestId("open-module"))[0]);
    expect((await screen.findByTestId("section-counter")).textContent).toBe("Section 3 of 3");
  });
});
