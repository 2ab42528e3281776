/**
 * What the webhook and email channels say, and when the RPO watchdog speaks,
 * decided without any host: the versioned webhook payload, the email's
 * subject and text, how an HTTP status is classified, the bounded retry
 * delays, and which jobs have just breached their RPO. Pure: the clock is
 * passed in; delivery lives in main/notify/.
 */
import type { Job, RunRecord } from './jobs.js';

/** What a notification is about. `test` is a message sent from Settings to try a channel. */
export type NotificationKind = 'run-finished' | 'rpo-breached' | 'restore-test-overdue' | 'test';

/** One notification, as the service hands it to every enabled channel. */
export interface NotificationEvent {
  kind: NotificationKind;
  /** When it happened (ISO). */
  at: string;
  /** One line, e.g. `Backup of "accounts" failed`. */
  title: string;
  /** The detail: the error, what to do. */
  text: string;
  /** Failures and breaches ask for attention; successes and tests do not. */
  severity: 'critical' | 'normal';
  job: { id: number; name: string } | null;
  /** For `run-finished`: the run. */
  run: Pick<RunRecord, 'id' | 'kind' | 'status' | 'startedAt' | 'endedAt' | 'bytesProcessed' | 'bytesAdded' | 'errorCount' | 'error' | 'snapshotId'> | null;
  /** For `rpo-breached`: the threshold and the last success (null: none yet). */
  rpo: { thresholdHours: number; lastSuccessAt: string | null } | null;
}

/** The version of the webhook payload; a change that breaks a receiver raises it. */
export const WEBHOOK_PAYLOAD_VERSION = 1;

/**
 * The webhook's JSON body, version 1. Receivers may rely on: `version`,
 * `kind`, `at`, `host`, `title`, `text`, `severity`, `job` (`{id, name}` or
 * null), `run` (or null: `id`, `kind`, `status`, `startedAt`, `endedAt`,
 * `bytesProcessed`, `bytesAdded`, `errorCount`, `error`, `snapshotId`) and
 * `rpo` (or null: `thresholdHours`, `lastSuccessAt`). Fields may be added
 * within a version; none is removed or changes meaning.
 */
export interface WebhookPayload {
  version: typeof WEBHOOK_PAYLOAD_VERSION;
  kind: NotificationKind;
  at: string;
  /** The host name of the machine Lifeboat runs on. */
  host: string;
  title: string;
  text: string;
  severity: NotificationEvent['severity'];
  job: NotificationEvent['job'];
  run: NotificationEvent['run'];
  rpo: NotificationEvent['rpo'];
}

export function webhookPayload(event: NotificationEvent, host: string): WebhookPayload {
  return { version: WEBHOOK_PAYLOAD_VERSION, kind: event.kind, at: event.at, host, title: event.title, text: event.text, severity: event.severity, job: event.job, run: event.run, rpo: event.rpo };
}

/** The email for a notification: the subject says what and where; the text has every detail. */
export function emailMessage(event: NotificationEvent, host: string): { subject: string; text: string } {
  const lines = [event.title, '', event.text, '', `Host: ${host}`, `When: ${event.at}`];
  if (event.job) lines.push(`Job: ${event.job.name} (#${event.job.id})`);
  const r = event.run;
  if (r) {
    lines.push(`Run: #${r.id} (${r.kind}), ${r.status}`);
    if (r.startedAt) lines.push(`Started: ${r.startedAt}`);
    if (r.endedAt) lines.push(`Ended: ${r.endedAt}`);
    lines.push(`Bytes read: ${r.bytesProcessed}, bytes added: ${r.bytesAdded}`);
    if (r.errorCount > 0) lines.push(`Files not read: ${r.errorCount}`);
    if (r.error) lines.push(`Error: ${r.error}`);
    if (r.snapshotId) lines.push(`Snapshot: ${r.snapshotId}`);
  }
  if (event.rpo) lines.push(`RPO: ${event.rpo.thresholdHours} h; last successful backup: ${event.rpo.lastSuccessAt ?? 'none yet'}`);
  lines.push('', '-- Lifeboat');
  return { subject: `[Lifeboat ${host}] ${event.title}`, text: lines.join('\n') + '\n' };
}

/** The notification for a finished run, for the channels (the job's mode decides first: `runNotification`). */
export function runFinishedEvent(run: RunRecord, job: Pick<Job, 'id' | 'name'>, title: string, text: string, severity: NotificationEvent['severity'], at: string): NotificationEvent {
  const { id, kind, status, startedAt, endedAt, bytesProcessed, bytesAdded, errorCount, error, snapshotId } = run;
  return { kind: 'run-finished', at, title, text, severity, job: { id: job.id, name: job.name }, run: { id, kind, status, startedAt, endedAt, bytesProcessed, bytesAdded, errorCount, error, snapshotId }, rpo: null };
}

/** 2xx: delivered. 5xx, 408 and 429: the receiver may take it later (retried). Other statuses: retrying will not help. */
export function classifyHttpStatus(status: number): 'delivered' | 'transient' | 'permanent' {
  if (status >= 200 && status < 300) return 'delivered';
  if (status >= 500 || status === 429 || status === 408) return 'transient';
  return 'permanent';
}

/**
 * How long to wait before each retry of a transient failure: `base`, then
 * four times as long each time, at most `max` each, `retries` of them (so a
 * notification is given up after a bounded time). `retryAfterMs`, when a
 * server said (429/503 Retry-After), replaces a shorter delay, still capped.
 */
export function retryDelay(attempt: number, policy: { baseMs: number; maxMs: number }, retryAfterMs?: number | null): number {
  const backoff = Math.min(policy.maxMs, policy.baseMs * 4 ** (attempt - 1));
  return retryAfterMs != null && retryAfterMs > backoff ? Math.min(policy.maxMs, retryAfterMs) : backoff;
}

/** A job as the RPO watchdog sees it. */
export interface RpoInput {
  id: number;
  name: string;
  /** The job's threshold; null: no watchdog. */
  rpoHours: number | null;
  /** When the job was created (ISO): a job that has never succeeded counts from then. */
  createdAt: string;
  /** When its last successful backup ended (ISO), null when none. */
  lastSuccessAt: string | null;
}

/**
 * Whether a job's RPO is breached at `now`: no successful backup within
 * `rpoHours`, counted from the last success or, before the first, from the
 * job's creation (a new job is not in breach before it has had the time).
 */
export function rpoBreached(now: Date, job: Pick<RpoInput, 'rpoHours' | 'createdAt' | 'lastSuccessAt'>): boolean {
  if (job.rpoHours === null) return false;
  const since = Date.parse(job.lastSuccessAt ?? job.createdAt);
  return now.getTime() - since > job.rpoHours * 3600_000;
}

/**
 * The watchdog's decision: which jobs have just gone from not breached to
 * breached (to notify, once), and the set of jobs in breach now (to store,
 * so a restart does not notify again). A job notifies again only after it
 * has recovered (left the set) and breached anew. Jobs that no longer exist
 * drop out of the set.
 */
export function rpoWatch(now: Date, jobs: readonly RpoInput[], breachedBefore: readonly number[]): { newlyBreached: RpoInput[]; breached: number[] } {
  const before = new Set(breachedBefore);
  const newlyBreached: RpoInput[] = [];
  const breached: number[] = [];
  for (const job of jobs) {
    if (!rpoBreached(now, job)) continue;
    breached.push(job.id);
    if (!before.has(job.id)) newlyBreached.push(job);
  }
  return { newlyBreached, breached };
}

/** The notification for a job that has just breached its RPO. */
export function rpoBreachEvent(now: Date, job: RpoInput): NotificationEvent {
  const hours = job.rpoHours ?? 0;
  return {
    kind: 'rpo-breached',
    at: now.toISOString(),
    title: `"${job.name}": no successful backup within ${hours} h`,
    text: job.lastSuccessAt ? `The last successful backup ended at ${job.lastSuccessAt}. Check the job's recent runs.` : `The job has not had a successful backup since it was created at ${job.createdAt}.`,
    severity: 'critical',
    job: { id: job.id, name: job.name },
    run: null,
    rpo: { thresholdHours: hours, lastSuccessAt: job.lastSuccessAt },
  };
}
