// The only module that calls `invoke`: one typed function per Tauri command, so a renamed
// command or a changed payload breaks the build here instead of at run time.
import { Channel, invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { AccessView } from "./bindings/AccessView";
import type { AcknowledgementView } from "./bindings/AcknowledgementView";
import type { ActivityItem } from "./bindings/ActivityItem";
import type { AnswerFeedback } from "./bindings/AnswerFeedback";
import type { AnswerInput } from "./bindings/AnswerInput";
import type { AttemptResult } from "./bindings/AttemptResult";
import type { AttemptView } from "./bindings/AttemptView";
import type { ChatReplyView } from "./bindings/ChatReplyView";
import type { ChatTurn } from "./bindings/ChatTurn";
import type { CommandError } from "./bindings/CommandError";
import type { Dashboard } from "./bindings/Dashboard";
import type { EnrolmentLinkView } from "./bindings/EnrolmentLinkView";
import type { EnrolmentView } from "./bindings/EnrolmentView";
import type { ExceptionForm } from "./bindings/ExceptionForm";
import type { ExceptionInput } from "./bindings/ExceptionInput";
import type { ExceptionView } from "./bindings/ExceptionView";
import type { ModuleSummary } from "./bindings/ModuleSummary";
import type { ModuleView } from "./bindings/ModuleView";
import type { PolicySummary } from "./bindings/PolicySummary";
import type { PostureView } from "./bindings/PostureView";
import type { ProgressInput } from "./bindings/ProgressInput";
import type { QuestionView } from "./bindings/QuestionView";
import type { SettingsView } from "./bindings/SettingsView";
import type { TrackView } from "./bindings/TrackView";
import type { UpdateView } from "./bindings/UpdateView";

export type {
  AccessView,
  AcknowledgementView,
  ActivityItem,
  AnswerFeedback,
  AnswerInput,
  AttemptResult,
  AttemptView,
  ChatReplyView,
  ChatTurn,
  CommandError,
  Dashboard,
  EnrolmentLinkView,
  EnrolmentView,
  ExceptionForm,
  ExceptionInput,
  ExceptionView,
  ModuleSummary,
  ModuleView,
  PolicySummary,
  PostureView,
  ProgressInput,
  QuestionView,
  SettingsView,
  TrackView,
  UpdateView,
};

/** Summary of the policy the app loaded at start (signed org policy, or the embedded demo). */
export function getPolicySummary(): Promise<PolicySummary> {
  return invoke<PolicySummary>("get_policy_summary");
}

export function getDashboard(): Promise<Dashboard> {
  return invoke<Dashboard>("get_dashboard");
}

/** Copilot access now: proxy address and key, whether tools get through, and why not. */
export function getAccess(): Promise<AccessView> {
  return invoke<AccessView>("get_access");
}

/** Sends training records to the org, fetches tokens and refreshes the gate. */
export function syncNow(): Promise<AccessView> {
  return invoke<AccessView>("sync_now");
}

/** Demo only: the gate sees a simulated compliant device (or this device again). */
export function simulateCompliantDevice(on: boolean): Promise<AccessView> {
  return invoke<AccessView>("simulate_compliant_device", { on });
}

/** Turns copilot access on or off for every tool on this device. */
export function setAccessEnabled(on: boolean): Promise<AccessView> {
  return invoke<AccessView>("set_access_enabled", { on });
}

/** Sends the conversation through the governed proxy; `onText` gets the answer as it streams. */
export function chatSend(turns: ChatTurn[], onText: (text: string) => void): Promise<ChatReplyView> {
  const channel = new Channel<string>();
  channel.onmessage = onText;
  return invoke<ChatReplyView>("chat_send", { turns, onText: channel });
}

/** Records approve / reject on an answer that needed a person's approval. */
export function chatDecide(requestId: string, approved: boolean): Promise<void> {
  return invoke<void>("chat_decide", { requestId, approved });
}

/** What an exception request asks for under the policy. */
export function getExceptionForm(): Promise<ExceptionForm> {
  return invoke<ExceptionForm>("get_exception_form");
}

export function requestException(input: ExceptionInput): Promise<ExceptionView> {
  return invoke<ExceptionView>("request_exception", { input });
}

export function getException(id: string): Promise<ExceptionView> {
  return invoke<ExceptionView>("get_exception", { id });
}

/** Demo only: the demo org's approvers approve the request. */
export function approveExceptionDemo(id: string): Promise<ExceptionView> {
  return invoke<ExceptionView>("approve_exception_demo", { id });
}

/** The newest proxy requests, metadata only. */
export function getActivity(): Promise<ActivityItem[]> {
  return invoke<ActivityItem[]>("get_activity");
}

/** Every setting with where it comes from; the org's are locked with the reason. */
export function getSettings(): Promise<SettingsView> {
  return invoke<SettingsView>("get_settings");
}

export function setAutostart(on: boolean): Promise<SettingsView> {
  return invoke<SettingsView>("set_autostart", { on });
}

export function setNotifications(on: boolean): Promise<SettingsView> {
  return invoke<SettingsView>("set_notifications", { on });
}

/** The running version and how the last update check ended. */
export function getUpdates(): Promise<UpdateView> {
  return invoke<UpdateView>("get_updates");
}

/** Checks the org server now; a verified newer version is installed (restart to use it). */
export function checkForUpdates(): Promise<UpdateView> {
  return invoke<UpdateView>("check_for_updates");
}

/** A scheduled update check changed the status; returns the unsubscribe function. */
export function onUpdateStatus(handler: (view: UpdateView) => void): Promise<() => void> {
  return listen<UpdateView>("update-status", (e) => handler(e.payload));
}

export function getPosture(): Promise<PostureView> {
  return invoke<PostureView>("get_posture");
}

/** Runs the device check now and waits for its result. */
export function recheckPosture(): Promise<PostureView> {
  return invoke<PostureView>("recheck_posture");
}

export function listTracks(): Promise<TrackView[]> {
  return invoke<TrackView[]>("list_tracks");
}

export function getModule(id: string): Promise<ModuleView> {
  return invoke<ModuleView>("get_module", { id });
}

export function saveProgress(progress: ProgressInput): Promise<ModuleSummary> {
  return invoke<ModuleSummary>("save_progress", { progress });
}

export function startAttempt(track: string): Promise<AttemptView> {
  return invoke<AttemptView>("start_attempt", { track });
}

export function answerQuestion(answer: AnswerInput): Promise<AnswerFeedback> {
  return invoke<AnswerFeedback>("answer_question", { answer });
}

export function submitAttempt(): Promise<AttemptResult> {
  return invoke<AttemptResult>("submit_attempt");
}

export function getAcknowledgement(): Promise<AcknowledgementView> {
  return invoke<AcknowledgementView>("get_acknowledgement");
}

export function signAcknowledgement(fullName: string): Promise<AcknowledgementView> {
  return invoke<AcknowledgementView>("sign_acknowledgement", { fullName });
}

/** Enrols this device with the org server using the one-time code; fetches its policy and course. */
export function enrollDevice(server: string, code: string): Promise<EnrolmentView> {
  return invoke<EnrolmentView>("enroll_device", { server, code });
}

/** The enrolment link the app was opened with, once: the fields to fill, or why it was refused. */
export function takeEnrolmentLink(): Promise<EnrolmentLinkView | null> {
  return invoke<EnrolmentLinkView | null>("take_enrolment_link");
}

/** A `certgate://enroll` link arrived while the window is open; returns the unsubscribe function. */
export function onEnrolmentLink(handler: () => void): Promise<() => void> {
  return listen("enrolment-link", () => handler());
}

/** Starts the app again (after enrolling it runs on the org's policy). */
export function restartApp(): Promise<void> {
  return invoke<void>("restart_app");
}

/** The screen the tray asked for before this window existed, once (or null). */
export function takePendingScreen(): Promise<string | null> {
  return invoke<string | null>("take_pending_screen");
}

/** The tray asks for a screen ("training"); returns the unsubscribe function. */
export function onNavigate(go: (screen: string) => void): Promise<() => void> {
  return listen<string>("navigate", (e) => go(e.payload));
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

/** A date as YYYY-MM-DD. */
export function day(iso: string | null): string {
  return iso ? iso.slice(0, 10) : "";
}
