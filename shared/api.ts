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
] as const satisfies readonly (keyof LifeboatApi)[];

type MissingMethods = Exclude<keyof LifeboatApi, (typeof API_METHODS)[number]>;
/** Fails to compile when a method is added to LifeboatApi but not to API_METHODS. */
export const API_METHODS_COMPLETE: [MissingMethods] extends [never] ? true : never = true;
