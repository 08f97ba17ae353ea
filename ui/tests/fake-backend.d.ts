export interface FakeBackend {
  handle(cmd: string, args?: Record<string, unknown>): unknown;
  state: { calls: string[]; checks: number; firewallOk: boolean; progress: Record<string, { position: number; completed: boolean }>; signed: unknown; attempts: number; passed: boolean; synced: number; simulated: boolean; accessOff: boolean; enrolled?: string; restarted?: number; pendingScreen?: string; link?: { server: string | null; code: string | null; refused: string | null } | null; autostart: boolean; notifications: boolean; updateChecks: number; exceptions: Record<string, { justification: Record<string, string>; state: string }>; chats: { id: string; turns: { role: string; content: string }[] }[]; decisions: Record<string, boolean> };
}
export function createBackend(options?: {
  firewallOk?: boolean;
  fixOnRecheck?: boolean;
  attemptsAllowed?: number;
  trust?: string;
  accessState?: "starting" | "ready" | "blocked" | "unavailable";
  activity?: unknown[];
  autostartLocked?: boolean;
  managedProblem?: string;
  update?: "upToDate" | "installed" | "refused";
}): FakeBackend;
export function installInBrowser(options?: Record<string, unknown>): void;
