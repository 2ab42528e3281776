/**
 * The one contract between the UI (renderer, headless browser client, CLI)
 * and the application service in main. Callers are derived from this
 * interface (`keyof LifeboatApi`, `Parameters`, `ReturnType`); no call site
 * names a channel as a string. Every argument is validated in main: the
 * renderer is untrusted.
 */
import type { CredentialField, RepositoryCredentials } from './credentials.js';
import type { Job, RunKind, RunRecord, RunStatus } from './jobs.js';
import type { OperationProgress } from './progress.js';
import type { RestoreTestDue, RestoreTestRecord } from './restore-test.js';
import type { Snapshot } from './repo/types.js';
import type { StaggerWarning } from './schedule/stagger.js';

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

/** The service's methods. All return promises: every host crosses a process or thread boundary. */
export interface LifeboatApi {
  listRepositories(): Promise<RepositoryInfo[]>;
  /**
   * Registers a repository; with `create`, initialises a new one there first. Give `password` (stored
   * in the secret store; never returned or logged) or `passwordRef` (where it is already kept).
   * The target's credentials likewise: `credentials` (secrets, put in the secret store) or
   * `credentialRefs` (references), per field; the service opens the target with them.
   */
  addRepository(input: {
    name: string;
    location: string;
    password?: string;
    passwordRef?: string;
    create?: boolean;
    credentials?: RepositoryCredentials;
    credentialRefs?: RepositoryCredentials;
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
}

/** Events the service emits to every connected UI. */
export interface LifeboatEvents {
  runChanged: RunRecord;
  runProgress: { runId: number; jobId: number; progress: OperationProgress };
}

/** Every method name, checked at compile time to be complete (hosts derive their channels from it). */
export const API_METHODS = [
  'listRepositories', 'addRepository', 'removeRepository', 'listJobs', 'getJob', 'createJob', 'updateJob', 'deleteJob',
  'runNow', 'cancelRun', 'listRuns', 'getRunLog', 'acknowledgeRun', 'listSnapshots', 'previewSchedule', 'previewRetention', 'staggerAdvice', 'restore',
  'restoreTestStatus', 'startRestoreTest', 'listRestoreTests', 'signOffRestoreTest', 'exportRestoreTestEvidence',
] as const satisfies readonly (keyof LifeboatApi)[];

type MissingMethods = Exclude<keyof LifeboatApi, (typeof API_METHODS)[number]>;
/** Fails to compile when a method is added to LifeboatApi but not to API_METHODS. */
export const API_METHODS_COMPLETE: [MissingMethods] extends [never] ? true : never = true;
