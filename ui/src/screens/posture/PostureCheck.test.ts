import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import PostureCheck from "./PostureCheck.svelte";
import { fakeBackend } from "../../lib/test-setup";

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("posture check", () => {
  it("gives a fix hint for each failing required fact only", async () => {
    fakeBackend();
    render(PostureCheck);
    const facts = await screen.findAllByTestId("fact");
    const firewall = facts.find((f) => f.dataset.fact === "firewall")!;
    expect(firewall.dataset.ok).toBe("false");
    expect(firewall.textContent).toContain("sudo ufw enable");
    const disk = facts.find((f) => f.dataset.fact === "diskEncryption")!;
    expect(disk.textContent).not.toContain("How to fix");
    expect(screen.getByTestId("posture-summary").textContent).toContain("1 required setting(s) need fixing");
  });

  it("check again runs recheck_posture and shows the fixed state", async () => {
    const backend = fakeBackend({ fixOnRecheck: true });
    render(PostureCheck);
    await screen.findAllByTestId("fact");
    await fireEvent.click(screen.getByRole("button", { name: "Check again" }));
    await waitFor(() => expect(screen.getByTestId("posture-summary").textContent).toContain("Every required setting is ok"));
    expect(backend.state.checks).toBe(1);
    expect(screen.queryByText(/How to fix/)).toBeNull();
  });
});
