import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import Activity from "./Activity.svelte";
import { fakeBackend } from "../../lib/test-setup";

afterEach(() => {
  cleanup();
  clearMocks();
});

const item = (id: string, decision: string, findings: { kind: string; count: number }[] = []) => ({
  requestId: id, time: "2026-11-27T10:00:00Z", tool: "developer-sdk", decision, status: decision === "allowed" ? 200 : 403,
  reasons: decision === "denied" ? ["certification"] : [], findings, approval: null, viaException: false,
});

describe("activity", () => {
  it("lists requests with finding types and counts, and filters by decision", async () => {
    fakeBackend({
      activity: [item("r2", "blocked", [{ kind: "AWS_ACCESS_KEY", count: 1 }]), item("r1", "allowed", [{ kind: "EMAIL", count: 2 }])],
    });
    render(Activity);
    const rows = await screen.findAllByTestId("activity-row");
    expect(rows.map((r) => r.dataset.decision)).toEqual(["blocked", "allowed"]);
    expect(rows[0].textContent).toContain("blocked: secret found");
    expect(rows[0].textContent).toContain("AWS_ACCESS_KEY × 1");
    expect(rows[1].textContent).toContain("EMAIL × 2");
    const filter = screen.getByTestId("activity-filter") as HTMLSelectElement;
    await fireEvent.change(filter, { target: { value: "refused" } });
    const refused = screen.getAllByTestId("activity-row");
    expect(refused.map((r) => r.dataset.decision)).toEqual(["blocked"]);
  });

  it("says what will appear when there is nothing yet", async () => {
    fakeBackend();
    render(Activity);
    expect((await screen.findByTestId("activity-empty")).textContent).toContain("never their text");
    expect((screen.getByRole("button", { name: "Export as CSV" }) as HTMLButtonElement).disabled).toBe(true);
  });
});
