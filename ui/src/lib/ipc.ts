// The only module that calls `invoke`: one typed function per Tauri command, so a renamed
// command or a changed payload breaks the build here instead of at run time.
import { invoke } from "@tauri-apps/api/core";
import type { CommandError } from "./bindings/CommandError";
import type { PolicySummary } from "./bindings/PolicySummary";

export type { CommandError, PolicySummary };

/** Summary of the policy the app loaded at start (signed org policy, or the embedded demo). */
export function getPolicySummary(): Promise<PolicySummary> {
  return invoke<PolicySummary>("get_policy_summary");
}

/** Narrows whatever a rejected `invoke` gave us to the app's error shape. */
export function asCommandError(err: unknown): CommandError {
  if (
    typeof err === "object" &&
    err !== null &&
    typeof (err as CommandError).code === "string" &&
    typeof (err as CommandError).message === "string"
  ) {
    return err as CommandError;
  }
  return { code: "internal", message: String(err) };
}
