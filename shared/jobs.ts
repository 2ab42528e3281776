/**
 * Backup jobs and their runs: the domain types shared by the store, the
 * scheduler, the service, the CLI and the UI, and the validation every job
 * passes before it is stored (errors name the field; nothing partial is kept).
 */
import { cronToCalendar, parseCalendar } from './schedule/calendar.js';
import { looksLikeCron } from './schedule/cron.js';
import { validatePolicy, type RetentionPolicy } from './retention.js';
import { compileExcludes } from './glob.js';
import { RESTORE_TEST_DEFAULTS, validateRestoreTestSettings, type RestoreTestSettings } from './restore-test.js';
import {
  rejectUnknownKeys, requireBoolean, requireInt, requireObject, requireOneOf, requireString, requireStringArray, ValidationError,
} from './validation.js';

export type OverlapPolicy = 'skip' | 'queue' | 'parallel';
export type NotificationMode = 'always' | 'errors' | 'never';
export type BackupMode = 'incremental' | 'full';

/** A bandwidth limit for part of the day, e.g. unlimited 22:00 to 06:00. `to` before `from` wraps past midnight. */
export interface BandwidthWindow {
  from: string;
  to: string;
  /** KiB/s; null means unlimited. */
  limitKiBps: number | null;
}

/** Everything an admin sets on a job. */
export interface JobConfig {
  name: string;
  /** The repository (store row id) this job backs up to. */
  repositoryId: number;
  sources: {
    paths: string[];
    /** When not empty, only files matching one of these globs are backed up. */
    include: string[];
    exclude: string[];
  };
  /** systemd calendar event; null: runs only when started by hand. */
  schedule: string | null;
  mode: BackupMode;
  /** Applied only by a prune pass, never when the policy is edited. */
  retention: RetentionPolicy | null;
  /** After a successful backup: forget by the retention policy, then prune. */
  pruneAfterBackup: boolean;
  /** A calendar event for a prune pass of its own (forget by the retention policy, then prune); null: none. */
  pruneSchedule: string | null;
  /** A calendar event for a repository check (verify); null: none. */
  checkSchedule: string | null;
  /** What a check reads of the data: nothing (structure only), a subset ("1/10", "5%") or "all". */
  checkReadData: 'none' | 'all' | string;
  overlap: OverlapPolicy;
  uploadWorkers: number;
  bandwidth: { limitKiBps: number | null; windows: BandwidthWindow[] };
  notify: NotificationMode;
  /** Warn when the last successful backup is older than this; null: no watchdog. */
  rpoHours: number | null;
  /** Run once on start or wake when a scheduled run was missed. */
  catchUp: boolean;
  enabled: boolean;
  /** Shell command run before the backup (e.g. a database dump); its failure fails the run. */
  preCommand: string | null;
  postCommand: string | null;
  tags: string[];
  /** Restore-test policy: cadence, due-soon window, target RTO, default scope, drill schedule. */
  restoreTest: RestoreTestSettings;
}

export interface Job extends JobConfig {
  id: number;
  createdAt: string;
  updatedAt: string;
}

export type RunTrigger = 'schedule' | 'manual' | 'catch-up';
export type RunStatus = 'queued' | 'running' | 'success' | 'partial' | 'failed' | 'skipped' | 'cancelled';
export type RunKind = 'backup' | 'prune' | 'check' | 'restore-test';

/** One run of a job, as recorded (every run is, including skipped ones). */
export interface RunRecord {
  id: number;
  jobId: number;
  kind: RunKind;
  trigger: RunTrigger;
  /** The scheduled slot this run answers (schedule and catch-up runs). */
  scheduledFor: string | null;
  queuedAt: string;
  startedAt: string | null;
  endedAt: string | null;
  status: RunStatus;
  /** What the run is doing now, or why it waits / was skipped. */
  phase: string | null;
  reason: string | null;
  snapshotId: string | null;
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  bytesProcessed: number;
  bytesAdded: number;
  /** Files that could not be read (partial runs). */
  errorCount: number;
  error: string | null;
  acknowledged: boolean;
}

export const JOB_DEFAULTS: Omit<JobConfig, 'name' | 'repositoryId' | 'sources'> = {
  schedule: null,
  mode: 'incremental',
  retention: null,
  pruneAfterBackup: false,
  pruneSchedule: null,
  checkSchedule: null,
  checkReadData: 'none',
  overlap: 'queue',
  uploadWorkers: 4,
  bandwidth: { limitKiBps: null, windows: [] },
  notify: 'errors',
  rpoHours: null,
  catchUp: true,
  enabled: true,
  preCommand: null,
  postCommand: null,
  tags: [],
  restoreTest: RESTORE_TEST_DEFAULTS,
};

const JOB_KEYS = ['name', 'repositoryId', 'sources', ...Object.keys(JOB_DEFAULTS)] as const;
const MAX_KIBPS = 10 * 1024 * 1024; // 10 GiB/s

function validateTimeOfDay(v: unknown, field: string): string {
  const s = requireString(v, field);
  const m = /^(\d{2}):(\d{2})$/.exec(s);
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) throw new ValidationError(field, `${JSON.stringify(s)} is not a time of day like 22:00`);
  return s;
}

function nullableLimit(v: unknown, field: string): number | null {
  return v === null ? null : requireInt(v, field, 1, MAX_KIBPS);
}

/**
 * A schedule as stored: a systemd calendar event as given, or a classic
 * 5-field cron line (or @daily, ...) converted to its calendar event.
 * Throws ValidationError naming `field` and the offending token.
 */
export function acceptSchedule(expr: string, field: string): string {
  try {
    parseCalendar(expr);
    return expr;
  } catch (e) {
    if (looksLikeCron(expr)) {
      try {
        return cronToCalendar(expr);
      } catch (cronError) {
        throw new ValidationError(field, `${(e as Error).message}; read as cron: ${(cronError as Error).message}`);
      }
    }
    throw new ValidationError(field, (e as Error).message);
  }
}

/** A bandwidth limit with time-of-day windows (a job's, or the global one); errors name `field` and below. */
export function validateBandwidth(v: unknown, field: string): { limitKiBps: number | null; windows: BandwidthWindow[] } {
  const bw = requireObject(v, field);
  rejectUnknownKeys(bw, field, ['limitKiBps', 'windows']);
  const windowsIn = bw.windows === undefined ? [] : bw.windows;
  if (!Array.isArray(windowsIn)) throw new ValidationError(`${field}.windows`, 'must be a list');
  const windows = windowsIn.map((w, i) => {
    const f = `${field}.windows[${i}]`;
    const wo = requireObject(w, f);
    rejectUnknownKeys(wo, f, ['from', 'to', 'limitKiBps']);
    const from = validateTimeOfDay(wo.from, `${f}.from`);
    const to = validateTimeOfDay(wo.to, `${f}.to`);
    if (from === to) throw new ValidationError(`${f}.to`, 'must differ from "from"');
    return { from, to, limitKiBps: nullableLimit(wo.limitKiBps ?? null, `${f}.limitKiBps`) };
  });
  return { limitKiBps: nullableLimit(bw.limitKiBps ?? null, `${field}.limitKiBps`), windows };
}

/**
 * Validates a complete job configuration (missing optional settings take
 * their defaults). Throws ValidationError naming the first bad field.
 */
export function validateJobConfig(input: unknown): JobConfig {
  const o = requireObject(input, 'job');
  rejectUnknownKeys(o, '', JOB_KEYS);
  const src = requireObject(o.sources, 'sources');
  rejectUnknownKeys(src, 'sources', ['paths', 'include', 'exclude']);
  const paths = requireStringArray(src.paths, 'sources.paths', { min: 1 });
  paths.forEach((p, i) => {
    if (!p.startsWith('/') && !/^[a-zA-Z]:[\\/]/.test(p) && !p.startsWith('\\\\')) throw new ValidationError(`sources.paths[${i}]`, `${JSON.stringify(p)} must be an absolute path`);
  });
  const include = src.include === undefined ? [] : requireStringArray(src.include, 'sources.include');
  const exclude = src.exclude === undefined ? [] : requireStringArray(src.exclude, 'sources.exclude');
  include.forEach((g, i) => compileExcludes([g], `sources.include[${i}]`));
  exclude.forEach((g, i) => compileExcludes([g], `sources.exclude[${i}]`));

  const d = { ...JOB_DEFAULTS, ...o } as Record<string, unknown>;
  const schedule = d.schedule === null ? null : acceptSchedule(requireString(d.schedule, 'schedule').trim(), 'schedule');
  const optionalSchedule = (v: unknown, field: string): string | null => (v === null ? null : acceptSchedule(requireString(v, field).trim(), field));
  const pruneSchedule = optionalSchedule(d.pruneSchedule, 'pruneSchedule');
  const checkSchedule = optionalSchedule(d.checkSchedule, 'checkSchedule');
  const checkReadData = requireString(d.checkReadData, 'checkReadData');
  if (!/^(none|all|\d+\/\d+|\d+(\.\d+)?%)$/.test(checkReadData)) throw new ValidationError('checkReadData', 'must be none, all, a group like 1/10, or a percentage like 5%');
  let retention: RetentionPolicy | null = null;
  if (d.retention !== null) {
    try {
      retention = validatePolicy(d.retention);
    } catch (e) {
      throw e instanceof ValidationError ? e : new ValidationError('retention', (e as Error).message.replace(/^retention\.?/, '').replace(/^:\s*/, '') || 'invalid');
    }
  }
  const bandwidth = validateBandwidth(d.bandwidth, 'bandwidth');
  const tags = requireStringArray(d.tags, 'tags');
  tags.forEach((t, i) => {
    if (/[,\s]/.test(t)) throw new ValidationError(`tags[${i}]`, 'must not contain commas or spaces');
  });
  const optionalCommand = (v: unknown, field: string) => (v === null || v === '' ? null : requireString(v, field, { max: 4096 }));
  return {
    name: requireString(o.name, 'name', { max: 200 }).trim(),
    repositoryId: requireInt(o.repositoryId, 'repositoryId', 1, Number.MAX_SAFE_INTEGER),
    sources: { paths, include, exclude },
    schedule,
    mode: requireOneOf(d.mode, 'mode', ['incremental', 'full'] as const),
    retention,
    pruneAfterBackup: requireBoolean(d.pruneAfterBackup, 'pruneAfterBackup'),
    pruneSchedule,
    checkSchedule,
    checkReadData,
    overlap: requireOneOf(d.overlap, 'overlap', ['skip', 'queue', 'parallel'] as const),
    uploadWorkers: requireInt(d.uploadWorkers, 'uploadWorkers', 1, 16),
    bandwidth,
    notify: requireOneOf(d.notify, 'notify', ['always', 'errors', 'never'] as const),
    rpoHours: d.rpoHours === null ? null : requireInt(d.rpoHours, 'rpoHours', 1, 24 * 366),
    catchUp: requireBoolean(d.catchUp, 'catchUp'),
    enabled: requireBoolean(d.enabled, 'enabled'),
    preCommand: optionalCommand(d.preCommand, 'preCommand'),
    postCommand: optionalCommand(d.postCommand, 'postCommand'),
    tags,
    restoreTest: validateRestoreTestSettings(o.restoreTest, acceptSchedule),
  };
}

/**
 * A stored configuration with the settings added since it was stored filled
 * with their defaults (a job saved before restore tests existed gets the
 * default restore-test policy). Does not validate.
 */
export function withJobDefaults<T extends Partial<JobConfig>>(stored: T): T & Pick<JobConfig, 'restoreTest'> {
  return { ...stored, restoreTest: { ...RESTORE_TEST_DEFAULTS, ...stored.restoreTest } };
}

/** Applies a partial edit to a job and validates the result as a whole. */
export function applyJobPatch(current: JobConfig, patch: unknown): JobConfig {
  const p = requireObject(patch, 'patch');
  rejectUnknownKeys(p, '', JOB_KEYS);
  const merged: Record<string, unknown> = { ...current, ...p };
  if (p.sources !== undefined) merged.sources = { ...current.sources, ...requireObject(p.sources, 'sources') };
  if (p.bandwidth !== undefined) merged.bandwidth = { ...current.bandwidth, ...requireObject(p.bandwidth, 'bandwidth') };
  if (p.restoreTest !== undefined) merged.restoreTest = { ...current.restoreTest, ...requireObject(p.restoreTest, 'restoreTest') };
  return validateJobConfig(merged);
}
