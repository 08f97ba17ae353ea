import { afterEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import Exception from "./Exception.svelte";
import { fakeBackend } from "../../lib/test-setup";

afterEach(() => {
  cleanup();
  clearMocks();
});

async function fill(values: Record<string, string>) {
  for (const [label, value] of Object.entries(values)) {
    await fireEvent.input(await screen.findByLabelText(label), { target: { value } });
  }
}

describe("exception request", () => {
  it("asks for every field the policy names, files it, and follows the approvals (demo approve)", async () => {
    const backend = fakeBackend();
    render(Exception, { demo: true });
    await fill({
      "Vendor name": "Acme BPO",
      "Ticket or project id": "OPS-7",
      "Data sensitivity": "internal",
      "Compensating controls": "supervised",
    });
    expect(screen.getByText("Needs approval by: FunctionalOwner, Security.")).toBeTruthy();
    await fireEvent.submit(screen.getByRole("button", { name: "Ask for the exception" }).closest("form")!);
    const status = await screen.findByTestId("exception-status");
    expect(status.dataset.state).toBe("pending");
    expect(status.textContent).toContain("Still needed: FunctionalOwner, Security.");
    expect(backend.state.exceptions["ex-1"].justification).toEqual({
      vendorName: "Acme BPO", ticketOrProjectId: "OPS-7", dataSensitivity: "internal", compensatingControls: "supervised",
    });
    await fireEvent.click(screen.getByRole("button", { name: "Approve as the demo approvers (demo only)" }));
    expect((await screen.findByText(/admits this tool/)).textContent).toContain("until the exception expires");
    expect(screen.getByTestId("exception-status").dataset.state).toBe("approved");
  });

  it("shows the org's refusal with its reason and offers no demo approval outside demo mode", async () => {
    fakeBackend();
    render(Exception);
    await fill({ "Vendor name": "Acme BPO" });
    await fireEvent.submit(screen.getByRole("button", { name: "Ask for the exception" }).closest("form")!);
    expect((await screen.findByTestId("exception-error")).textContent).toContain("missing justification ticketOrProjectId");
    expect(screen.queryByRole("button", { name: /demo approvers/ })).toBeNull();
  });
});
