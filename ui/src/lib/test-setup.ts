// Shared by the screen tests: the fake backend behind Tauri's mockIPC.
import { mockIPC } from "@tauri-apps/api/mocks";
import { createBackend, type FakeBackend } from "../../tests/fake-backend.js";

export function fakeBackend(options?: Parameters<typeof createBackend>[0]): FakeBackend {
  const backend = createBackend(options);
  mockIPC((cmd, args) => backend.handle(cmd, args as Record<string, unknown>));
  return backend;
}
