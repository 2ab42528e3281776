/**
 * The one contract between the UI (renderer, headless browser client, CLI)
 * and the application service in main. Callers are derived from this
 * interface (`keyof LifeboatApi`, `Parameters`, `ReturnType`); no call site
 * names a channel as a string. Every argument is validated in main: the
 * renderer is untrusted.
 */
import type { CredentialField, RepositoryCredentials } from './credentials.js';
import type { Job, JobConfig, RunKind, RunRecord, RunStatus } from './jobs.js';
import type { OperationProgress } from './progress.js';
import type { RestoreTestDue, RestoreTestRecord } from './restore-test.js';
import type { Snapshot } from './repo/types.js';
import type { StaggerWarning } from './schedule/stagger.js';
import type { PauseDuration, RunNotification, TrayState } from './app-state.js';
import type { DeliveryResult, NotificationChannelName, SettingsView } from './settings.js';
import type { SnapshotDiff, SnapshotEntry } from './snapshot-index.js';

/** A repository known to Lifeboat. The password lives in the secret store; `passwordRef` only points at it. */
export interface RepositoryInfo {
  id: number;
  name: string;
  location: string;
  passwordRef: string | null;
  /** Which target credentials are stored for it (in the secret store; only references in the database). Never their values. */
  credentials: CredentialField[];
  /** restic's repository ID, once the repository has been opened. */
  repositoryId: string | null;
  createdAt: string;
}

/** A job with what the dashboard shows about it. */
export interface JobStatus {
  job: Job;
  lastRun: RunRecord | null;
  lastSuccess: RunRecord | null;
  /** Next scheduled run (ISO), null when none. */
  nextRun: string | null;
  /** Why the next run is when it is, or why nothing is scheduled. */
  nextRunReason: string;
  active: RunRecord[];
  /** RPO watchdog: breached when the last success is older than the job's threshold. */
  rpo: { thresholdHours: number | null; breached: boolean; lastSuccessAt: string | null };
  /** Whether a restore test is due (`restoreTestDue` over the job's stored tests), for the dashboard, jobs list and tray. */
  restoreTest: RestoreTestDue;
}

/**
 * A restore test to start for a job. Omitted settings come from the job's
 * restore-test policy (scope) or their defaults.
 */
export interface RestoreTestRequest {
  jobId: number;
  /** Snapshot ID or unique prefix; default: the job's latest snapshot. */
  snapshotId?: string;
  /** A `RestoreTestScope`; default: the job's `restoreTest.scope`. */
  scope?: unknown;
  /** Seed of the random sample; default: a fresh random one (recorded with the evidence). */
  seed?: number;
  /** Absolute folder in which the sandbox is made; default: the system's temporary folder. */
  sandboxParent?: string;
  /** Keep the restored files afterwards (the evidence records where). */
  keepSandbox?: boolean;
  /** Absolute folder where the job's (single) source folder lives now, for the comparison with the source; default: where it was backed up from. */
  sourceDir?: string;
}

/** Which restore tests to list (newest first). */
export interface RestoreTestFilter {
  jobId?: number;
  /** The test run by this run. */
  runId?: number;
  /** ISO times bounding when the tests ended. */
  from?: string;
  to?: string;
  limit?: number;
}

/** An evidence export: a file to save or show. */
export interface EvidenceExport {
  fileName: string;
  mimeType: 'text/html' | 'text/csv';
  content: string;
}

export interface RetentionPreviewEntry {
  snapshotId: string | null;
  time: string;
  simulated: boolean;
  keep: boolean;
  reasons: string[];
}

export interface RetentionPreview {
  entries: RetentionPreviewEntry[];
  /** Bytes a prune would free after forgetting the removed real snapshots (null when not computed). */
  bytesFreed: number | null;
}

export interface RestoreRequest {
  repositoryId: number;
  snapshotId: string;
  target: string;
  include?: string[];
}

export interface RestoreSummary {
  files: number;
  dirs: number;
  bytes: number;
  errors: { path: string; message: string }[];
}

export interface RunFilter {
  jobId?: number;
  statuses?: RunStatus[];
  limit?: number;
  beforeId?: number;
}

/** The whole app's state, for the tray and the dashboard's banner. */
export interface AppStatus {
  tray: TrayState;
  /** End of the schedule pause (ISO), null when schedules run. */
  pausedUntil: string | null;
  unacknowledgedFailures: RunRecord[];
}

/**
 * What `testConnection` tries: a location with the same password and target
 * credentials `addRepository` takes (secrets as typed, or references to where
 * each is kept). Nothing of it is stored.
 */
export interface ConnectionTestInput {
  location: string;
  password?: string;
  passwordRef?: string;
  credentials?: RepositoryCredentials;
  credentialRefs?: RepositoryCredentials;
}

/** An SFTP server's host key as a connection test met it. */
export interface ConnectionTestHostKey {
  /** The pin file's key for the server, "host:port". */
  hostPort: string;
  /** What the server presented: type ("ssh-ed25519") and OpenSSH fingerprint ("SHA256:…"). */
  keyType: string;
  fingerprint: string;
  /**
   * `new`: not pinned yet; it is pinned when the repository is added (confirm the fingerprint first).
   * `pinned`: matches the pin. `changed`: differs from the pin (`pinned`), and the connection was refused.
   */
  status: 'new' | 'pinned' | 'changed';
  pinned?: { keyType: string; fingerprint: string };
}

/** Whether a location can be reached with the given credentials, and whether a repository is already there. */
export interface ConnectionTest {
  ok: boolean;
  /** A repository (config file) exists at the location; with a password: it opened. */
  initialized: boolean;
  /** What happened; never contains a secret. */
  message: string;
  /**
   * When it failed because of something the admin gave: that input field
   * (`location`, `password`, `credentials.sftpPassword`, `credentialRefs.s3SecretAccessKey`…);
   * null when the server or the network failed.
   */
  field?: string | null;
  /** SFTP locations: the host key the server presented (absent when no key exchange happened). */
  hostKey?: ConnectionTestHostKey;
}

/** Job configuration as exported (no secrets: repositories by name, their passwords stay in the secret store). */
export interface JobsExport {
  format: 'lifeboat-jobs';
  version: 1;
  exportedAt: string;
  jobs: (Omit<JobConfig, 'repositoryId'> & { repository: string })[];
}

/** The service's methods. All return promises: every host crosses a process or thread boundary. */
export interface LifeboatApi {
  listRepositories(): Promise<RepositoryInfo[]>;
  /**
   * Registers a repository; with `create`, initialises a new one there first. Give `password` (stored
   * in the secret store; never returned or logged) or `passwordRef` (where it is already kept).
   * The target's credentials likewise: `credentials` (secrets, put in the secret store) or
   * `credentialRefs` (references), per field; the service opens the target with them.
   * `hostKeyFingerprint`: for SFTP, the host key the admin confirmed after `testConnection`
   * (OpenSSH's "SHA256:…"); a server presenting another key is refused and nothing is pinned.
   */
  addRepository(input: {
    name: string;
    location: string;
    password?: string;
    passwordRef?: string;
    create?: boolean;
    credentials?: RepositoryCredentials;
    credentialRefs?: RepositoryCredentials;
    hostKeyFingerprint?: string;
  }): Promise<RepositoryInfo>;
  removeRepository(id: number): Promise<void>;
  listJobs(): Promise<JobStatus[]>;
  getJob(id: number): Promise<JobStatus>;
  createJob(config: unknown): Promise<Job>;
  updateJob(id: number, patch: unknown): Promise<Job>;
  deleteJob(id: number): Promise<void>;
  /** Starts a run now (subject to the concurrency cap); never skips or moves the next scheduled run. */
  runNow(jobId: number, kind?: RunKind): Promise<RunRecord>;
  cancelRun(runId: number): Promise<RunRecord>;
  listRuns(filter: RunFilter): Promise<RunRecord[]>;
  getRunLog(runId: number): Promise<string>;
  acknowledgeRun(runId: number): Promise<void>;
  listSnapshots(repositoryId: number): Promise<Snapshot[]>;
  previewSchedule(expression: string, count: number): Promise<{ normalized: string; next: string[] }>;
  /**
   * What a retention policy (the job's, or `policy` before it is saved) keeps and removes over the
   * job's real snapshots and those its schedule makes in the next `weeks`, and the bytes a prune
   * would free now. Deletes nothing.
   */
  previewRetention(jobId: number, options?: { policy?: unknown; weeks?: number }): Promise<RetentionPreview>;
  staggerAdvice(): Promise<StaggerWarning[]>;
  restore(request: RestoreRequest): Promise<RestoreSummary>;
  /** A job's restore-test state (due, overdue, never tested, with dates) and its newest test. */
  restoreTestStatus(jobId: number): Promise<{ due: RestoreTestDue; lastTest: RestoreTestRecord | null }>;
  /**
   * Starts a restore test as a run of kind `restore-test` (under the concurrency cap, sharing the
   * repository like a backup); progress comes as `runProgress` events; the evidence is stored when
   * it ends (find it with `listRestoreTests({ runId })`).
   */
  startRestoreTest(request: RestoreTestRequest): Promise<RunRecord>;
  listRestoreTests(filter: RestoreTestFilter): Promise<RestoreTestRecord[]>;
  /** Records the operator's sign-off (name and note) on a stored test. */
  signOffRestoreTest(id: number, signOff: { operator: string; note?: string | null }): Promise<RestoreTestRecord>;
  /**
   * Evidence for auditors over a period (default: the last four quarters): per job (or all jobs) and
   * quarter, tested? passed?, then every test in detail; as print-ready HTML or CSV.
   */
  exportRestoreTestEvidence(options: { format: 'html' | 'csv'; jobId?: number; from?: string; to?: string }): Promise<EvidenceExport>;

  /** The tray's state (jobs, unacknowledged failures, restore tests due, pause) and the schedule pause. */
  getAppStatus(): Promise<AppStatus>;
  /**
   * Pauses every schedule for an hour or until local midnight: scheduled slots in the pause are recorded
   * as skipped (not caught up afterwards). "Run now" still works.
   */
  pauseSchedules(duration: PauseDuration): Promise<AppStatus>;
  resumeSchedules(): Promise<AppStatus>;
  getSettings(): Promise<SettingsView>;
  /** Changes some settings (validated; unknown keys refused) and applies them at once. */
  updateSettings(patch: unknown): Promise<SettingsView>;

  /** A folder of a snapshot: its children, folders with the total size below them ("/" is the top). */
  listSnapshotTree(repositoryId: number, snapshotId: string, path: string): Promise<{ path: string; entries: SnapshotEntry[] }>;
  /** Paths of a snapshot whose name contains `query` (`*` and `?` as wildcards), at most `limit`. */
  searchSnapshot(repositoryId: number, snapshotId: string, query: string, limit?: number): Promise<{ entries: SnapshotEntry[]; truncated: boolean }>;
  /** Files and folders added, removed and changed from snapshot `fromId` to `toId`. */
  diffSnapshots(repositoryId: number, fromId: string, toId: string): Promise<SnapshotDiff>;
  /**
   * Tries a location with the password and target credentials the admin is entering, without storing
   * anything (no repository row, no secret, no host-key pin). Input that is malformed throws a
   * ValidationError naming the field; a connection that fails resolves with `ok: false` and the field at fault.
   */
  testConnection(input: ConnectionTestInput): Promise<ConnectionTest>;
  /** Every job's configuration, repositories by name, no secrets. */
  exportJobs(): Promise<JobsExport>;
  /** Adds the jobs of an export (all or none); repositories must exist by name, job names must be new. */
  importJobs(data: unknown): Promise<Job[]>;
  /**
   * Sends a test message now on a notification channel, with its saved settings (enabled or
   * not; one attempt, no retry), and returns the outcome (also kept as its last delivery).
   */
  testNotification(channel: NotificationChannelName): Promise<DeliveryResult>;
}

/** Events the service emits to every connected UI. */
export interface LifeboatEvents {
  runChanged: RunRecord;
  runProgress: { runId: number; jobId: number; progress: OperationProgress };
  /** After anything that may change the tray: a run's transition, a pause, an acknowledgement. */
  appStatusChanged: AppStatus;
  /** A finished run that its job's notification mode reports (and desktop notifications are on). */
  notification: RunNotification;
  /** Progress of a restore started through the API. */
  restoreProgress: { snapshotId: string; target: string; progress: OperationProgress };
}

/** Every event name, checked at compile time to be complete (hosts forward exactly these). */
export const EVENT_NAMES = ['runChanged', 'runProgress', 'appStatusChanged', 'notification', 'restoreProgress'] as const satisfies readonly (keyof LifeboatEvents)[];

type MissingEvents = Exclude<keyof LifeboatEvents, (typeof EVENT_NAMES)[number]>;
/** Fails to compile when an event is added to LifeboatEvents but not to EVENT_NAMES. */
export const EVENT_NAMES_COMPLETE: [MissingEvents] extends [never] ? true : never = true;

/** Every method name, checked at compile time to be complete (hosts derive their channels from it). */
export const API_METHODS = [
  'listRepositories', 'addRepository', 'removeRepository', 'listJobs', 'getJob', 'createJob', 'updateJob', 'deleteJob',
  'runNow', 'cancelRun', 'listRuns', 'getRunLog', 'acknowledgeRun', 'listSnapshots', 'previewSchedule', 'previewRetention', 'staggerAdvice', 'restore',
  'restoreTestStatus', 'startRestoreTest', 'listRestoreTests', 'signOffRestoreTest', 'exportRestoreTestEvidence',
  'getAppStatus', 'pauseSchedules', 'resumeSchedules', 'getSettings', 'updateSettings',
  'listSnapshotTree', 'searchSnapshot', 'diffSnapshots', 'testConnection', 'exportJobs', 'importJobs',
  'testNotification',
] as const satisfies readonly (keyof LifeboatApi)[];

type MissingMethods = Exclude<keyof LifeboatApi, (typeof API_METHODS)[number]>;
/** Fails to compile when a method is added to LifeboatApi but not to API_METHODS. */
export const API_METHODS_COMPLETE: [MissingMethods] extends [never] ? true : never = true;
