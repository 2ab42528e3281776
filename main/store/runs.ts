import type { Database, Statement } from 'better-sqlite3';
import type { RunKind, RunRecord, RunStatus, RunTrigger } from '../../shared/jobs.js';
import { ValidationError } from '../../shared/validation.js';
import { RecordNotFoundError } from './errors.js';

/** What {@link RunStore.create} needs to record a new run. */
export interface NewRun {
  /** The job the run belongs to; it must exist. */
  readonly jobId: number;
  readonly kind: RunKind;
  readonly trigger: RunTrigger;
  /**
   * The scheduled slot the run answers: required (a time, see
   * {@link RunStore}) for `schedule` and `catch-up` runs, null for `manual` ones.
   */
  readonly scheduledFor: string | null;
  readonly status: RunStatus;
  /** Why the run was queued or skipped; omitted: null. */
  readonly reason?: string | null;
  /** What the run is doing or waiting for; omitted: null. */
  readonly phase?: string | null;
}

/**
 * Fields to change in {@link RunStore.update}: omitted (undefined) fields keep
 * their value, `null` clears a nullable field. The id and the job cannot change.
 */
export type RunPatch = Partial<Omit<RunRecord, 'id' | 'jobId'>>;

/** Conditions for {@link RunStore.list}; omitted ones don't filter. */
export interface RunListFilter {
  /** Only runs of this job. */
  readonly jobId?: number;
  /** Only runs whose status is one of these (an empty list matches nothing). */
  readonly statuses?: readonly RunStatus[];
  /** At most this many runs (a whole number >= 0). */
  readonly limit?: number;
  /** Only runs with a smaller id than this: the next page after a page ending at `beforeId`. */
  readonly beforeId?: number;
}

/**
 * The most a run's log keeps, in UTF-8 bytes, the truncation marker included.
 * When an append would make it longer, the oldest text is dropped.
 */
export const RUN_LOG_MAX_BYTES = 1024 * 1024;

/** The line a truncated log starts with (there is only ever one). */
export const RUN_LOG_TRUNCATION_MARKER = '[earlier output was dropped: a run log keeps only its last 1 MiB]\n';

/** The `error` of a run that {@link RunStore.markInterrupted} marked failed. */
export const INTERRUPTED_RUN_ERROR = 'interrupted: Lifeboat stopped before the run finished';

const RUN_STATUSES: readonly RunStatus[] = ['queued', 'running', 'success', 'partial', 'failed', 'skipped', 'cancelled'];
const FINISHED_STATUSES: ReadonlySet<RunStatus> = new Set(['success', 'partial', 'failed', 'skipped', 'cancelled']);

/** A patchable field of a run, its column, and whether it is a timestamp. */
const PATCHABLE: Readonly<Record<keyof RunPatch, { column: string; time?: 'nullable' | 'required' }>> = {
  kind: { column: 'kind' },
  trigger: { column: '"trigger"' },
  scheduledFor: { column: 'scheduled_for', time: 'nullable' },
  queuedAt: { column: 'queued_at', time: 'required' },
  startedAt: { column: 'started_at', time: 'nullable' },
  endedAt: { column: 'ended_at', time: 'nullable' },
  status: { column: 'status' },
  phase: { column: 'phase' },
  reason: { column: 'reason' },
  snapshotId: { column: 'snapshot_id' },
  filesNew: { column: 'files_new' },
  filesChanged: { column: 'files_changed' },
  filesUnmodified: { column: 'files_unmodified' },
  bytesProcessed: { column: 'bytes_processed' },
  bytesAdded: { column: 'bytes_added' },
  errorCount: { column: 'error_count' },
  error: { column: 'error' },
  acknowledged: { column: 'acknowledged' },
};
const PATCHABLE_FIELDS = Object.keys(PATCHABLE) as (keyof RunPatch)[];

interface RunRow {
  id: number;
  job_id: number;
  kind: RunKind;
  trigger: RunTrigger;
  scheduled_for: string | null;
  queued_at: string;
  started_at: string | null;
  ended_at: string | null;
  status: RunStatus;
  phase: string | null;
  reason: string | null;
  snapshot_id: string | null;
  files_new: number;
  files_changed: number;
  files_unmodified: number;
  bytes_processed: number;
  bytes_added: number;
  error_count: number;
  error: string | null;
  acknowledged: number;
}

/** Every column but `log`, which only {@link RunStore.getLog} reads. */
const COLUMNS =
  'id, job_id, kind, "trigger", scheduled_for, queued_at, started_at, ended_at, status, phase, reason, snapshot_id, ' +
  'files_new, files_changed, files_unmodified, bytes_processed, bytes_added, error_count, error, acknowledged';

/**
 * Typed access to the `runs` table through prepared statements.
 *
 * Times (`scheduledFor`, `queuedAt`, `startedAt`, `endedAt`) are stored in
 * the exact form of `Date#toISOString()` (UTC, milliseconds, `Z`), so that
 * they sort as text. Times given to {@link create} and {@link update} may be
 * any ISO-8601 date-time with seconds optional and a `Z` or `±HH:MM` offset;
 * they are converted to that form (so what is read back can differ in
 * spelling, never in instant). Anything else is refused with a
 * `ValidationError` naming the field.
 *
 * Other values are checked by the schema (unknown kinds, triggers and
 * statuses, negative counts, a malformed snapshot id, a `scheduledFor` given
 * for a manual run or missing for another one are refused with an
 * `SqliteError` naming the CHECK constraint).
 *
 * "Newest first" / "oldest first" orders are by id, i.e. the order in which
 * the runs were created.
 */
export class RunStore {
  private readonly insertStatement: Statement<[Record<string, unknown>], RunRow>;
  private readonly byIdStatement: Statement<[number], RunRow>;
  private readonly updateStatement: Statement<[Record<string, unknown>], RunRow>;
  private readonly jobExistsStatement: Statement<[number], { found: number }>;
  private readonly appendLogStatement: Statement<[{ id: number; text: string; max: number }]>;
  private readonly getLogStatement: Statement<[number], { log: string }>;
  private readonly setLogStatement: Statement<[{ id: number; log: string }]>;
  private readonly lastScheduledForStatement: Statement<[{ jobId: number; kind: RunKind | null }], { last: string | null }>;
  private readonly lastSuccessStatement: Statement<[{ jobId: number; kind: RunKind | null }], RunRow>;
  private readonly activeStatement: Statement<[{ jobId: number | null }], RunRow>;
  private readonly markInterruptedStatement: Statement<[{ error: string; now: string }]>;
  private readonly acknowledgeStatement: Statement<[number]>;
  private readonly unacknowledgedFailuresStatement: Statement<[], RunRow>;
  private readonly listStatements = new Map<string, Statement<[Record<string, unknown>], RunRow>>();

  /**
   * @param db an open connection whose schema is at least version 2
   * @param now the clock used for `queuedAt` and as the default time of
   *   {@link markInterrupted} (injectable for tests)
   */
  constructor(
    private readonly db: Database,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.insertStatement = db.prepare(
      `INSERT INTO runs (job_id, kind, "trigger", scheduled_for, queued_at, started_at, ended_at, status, phase, reason)
       VALUES (@jobId, @kind, @trigger, @scheduledFor, @queuedAt, @startedAt, @endedAt, @status, @phase, @reason)
       RETURNING ${COLUMNS}`,
    );
    this.byIdStatement = db.prepare(`SELECT ${COLUMNS} FROM runs WHERE id = ?`);
    this.updateStatement = db.prepare(
      `UPDATE runs SET ${PATCHABLE_FIELDS.map((field) => `${PATCHABLE[field].column} = @${field}`).join(', ')}
        WHERE id = @id
       RETURNING ${COLUMNS}`,
    );
    this.jobExistsStatement = db.prepare('SELECT count(*) AS found FROM jobs WHERE id = ?');
    this.appendLogStatement = db.prepare(
      'UPDATE runs SET log = log || @text WHERE id = @id AND octet_length(log) + octet_length(@text) <= @max',
    );
    this.getLogStatement = db.prepare('SELECT log FROM runs WHERE id = ?');
    this.setLogStatement = db.prepare('UPDATE runs SET log = @log WHERE id = @id');
    this.lastScheduledForStatement = db.prepare('SELECT max(scheduled_for) AS last FROM runs WHERE job_id = @jobId AND (@kind IS NULL OR kind = @kind)');
    this.lastSuccessStatement = db.prepare(
      `SELECT ${COLUMNS} FROM runs
        WHERE job_id = @jobId AND status IN ('success', 'partial') AND (@kind IS NULL OR kind = @kind)
        ORDER BY id DESC LIMIT 1`,
    );
    this.activeStatement = db.prepare(
      `SELECT ${COLUMNS} FROM runs
        WHERE status IN ('queued', 'running') AND (@jobId IS NULL OR job_id = @jobId)
        ORDER BY id`,
    );
    this.markInterruptedStatement = db.prepare(
      `UPDATE runs SET status = 'failed', error = @error, ended_at = @now WHERE status IN ('queued', 'running')`,
    );
    this.acknowledgeStatement = db.prepare('UPDATE runs SET acknowledged = 1 WHERE id = ?');
    this.unacknowledgedFailuresStatement = db.prepare(
      `SELECT ${COLUMNS} FROM runs WHERE status = 'failed' AND acknowledged = 0 ORDER BY id DESC`,
    );
  }

  /**
   * Record a new run and return it as stored. `queuedAt` is now; a run
   * created as `running` also gets `startedAt` = now, and one created in a
   * final status (e.g. `skipped`) `endedAt` = now. Counts start at 0, the log
   * empty, `acknowledged` false.
   *
   * @throws {ValidationError} no job has id `jobId` (`field` is `'jobId'`), or `scheduledFor` is not a time
   */
  create(run: NewRun): RunRecord {
    const queuedAt = this.now().toISOString();
    const scheduledFor = canonicalTime(run.scheduledFor, 'scheduledFor', 'nullable');
    const insert = this.db.transaction((): RunRow => {
      if (!Number.isSafeInteger(run.jobId) || this.jobExistsStatement.get(run.jobId)?.found !== 1) throw missingJob(run.jobId);
      try {
        return this.insertStatement.get({
          jobId: run.jobId,
          kind: run.kind,
          trigger: run.trigger,
          scheduledFor,
          queuedAt,
          startedAt: run.status === 'running' ? queuedAt : null,
          endedAt: FINISHED_STATUSES.has(run.status) ? queuedAt : null,
          status: run.status,
          phase: run.phase ?? null,
          reason: run.reason ?? null,
        }) as RunRow;
      } catch (error) {
        // The only foreign key of `runs` is job_id.
        if (isForeignKeyViolation(error)) throw missingJob(run.jobId);
        throw error;
      }
    });
    return toRunRecord(insert());
  }

  /**
   * Change some fields of a run and return it as stored. Read-modify-write
   * happens in one transaction.
   *
   * @throws {RecordNotFoundError} no run has this id
   * @throws {ValidationError} `patch` names a field that cannot be changed
   *   (`id`, `jobId`, anything not in {@link RunRecord}), a time is not a
   *   time, or `acknowledged` is not a boolean
   */
  update(id: number, patch: RunPatch): RunRecord {
    const changes: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(patch)) {
      if (!Object.hasOwn(PATCHABLE, field)) throw new ValidationError(field, 'is not a field of a run that can be changed');
      if (value === undefined) continue;
      const time = PATCHABLE[field as keyof RunPatch].time;
      if (time !== undefined) changes[field] = canonicalTime(value, field, time);
      else if (field === 'acknowledged' && typeof value !== 'boolean') throw new ValidationError(field, 'must be true or false');
      else changes[field] = value;
    }
    const write = this.db.transaction((): RunRow => {
      const current = this.byIdStatement.get(id);
      if (current === undefined) throw new RecordNotFoundError('runs', id);
      const merged: Record<string, unknown> = { ...toRunRecord(current), ...changes };
      merged.acknowledged = merged.acknowledged === true ? 1 : 0;
      return this.updateStatement.get(merged) as RunRow;
    });
    return toRunRecord(write());
  }

  /** The run with this id, or undefined. */
  get(id: number): RunRecord | undefined {
    const row = this.byIdStatement.get(id);
    return row === undefined ? undefined : toRunRecord(row);
  }

  /**
   * Runs matching `filter`, newest first. Page with `limit` and `beforeId`
   * (the id of the last run of the previous page).
   *
   * @throws {ValidationError} a filter value has the wrong type (`field` names it)
   */
  list(filter: RunListFilter = {}): RunRecord[] {
    const conditions: string[] = [];
    const parameters: Record<string, unknown> = { limit: -1 };
    if (filter.jobId !== undefined) {
      parameters.jobId = requireId(filter.jobId, 'jobId');
      conditions.push('job_id = @jobId');
    }
    if (filter.statuses !== undefined) {
      if (!Array.isArray(filter.statuses)) throw new ValidationError('statuses', 'must be a list');
      filter.statuses.forEach((status, i) => {
        if (!RUN_STATUSES.includes(status)) throw new ValidationError(`statuses[${i}]`, `must be one of ${RUN_STATUSES.join(', ')}`);
      });
      parameters.statuses = JSON.stringify(filter.statuses);
      conditions.push('status IN (SELECT value FROM json_each(@statuses))');
    }
    if (filter.beforeId !== undefined) {
      parameters.beforeId = requireId(filter.beforeId, 'beforeId');
      conditions.push('id < @beforeId');
    }
    if (filter.limit !== undefined) {
      if (!Number.isSafeInteger(filter.limit) || filter.limit < 0) throw new ValidationError('limit', 'must be a whole number >= 0');
      parameters.limit = filter.limit;
    }
    const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
    let statement = this.listStatements.get(where);
    if (statement === undefined) {
      statement = this.db.prepare(`SELECT ${COLUMNS} FROM runs ${where} ORDER BY id DESC LIMIT @limit`);
      this.listStatements.set(where, statement);
    }
    return statement.all(parameters).map(toRunRecord);
  }

  /**
   * Append `text` as is (include the line breaks) to the run's log. The log
   * never exceeds {@link RUN_LOG_MAX_BYTES}: when it would, the oldest text is
   * dropped (from a line start where one is near) and the log starts with
   * {@link RUN_LOG_TRUNCATION_MARKER}. Each call rewrites the stored log, so
   * append lines in batches rather than a character at a time.
   *
   * @throws {RecordNotFoundError} no run has this id
   */
  appendLog(id: number, text: string): void {
    const append = this.db.transaction(() => {
      if (this.appendLogStatement.run({ id, text, max: RUN_LOG_MAX_BYTES }).changes > 0) return;
      const row = this.getLogStatement.get(id);
      if (row === undefined) throw new RecordNotFoundError('runs', id);
      this.setLogStatement.run({ id, log: capLog(row.log + text) });
    });
    append();
  }

  /**
   * The run's log text ('' when nothing was logged).
   *
   * @throws {RecordNotFoundError} no run has this id
   */
  getLog(id: number): string {
    const row = this.getLogStatement.get(id);
    if (row === undefined) throw new RecordNotFoundError('runs', id);
    return row.log;
  }

  /**
   * The latest `scheduledFor` of any run of the job, whatever its status
   * (skipped, failed and cancelled runs count: the slot was handled), or null
   * if no scheduled or catch-up run was ever recorded. This is the
   * scheduler's memory of the slots it has dealt with.
   */
  lastScheduledFor(jobId: number, kind: RunKind | null = null): string | null {
    return this.lastScheduledForStatement.get({ jobId, kind })?.last ?? null;
  }

  /**
   * The job's newest run that ended `success` or `partial`, of kind `kind`
   * (default `'backup'`: a successful prune is not a backup; pass null for
   * any kind), or undefined.
   */
  lastSuccess(jobId: number, kind: RunKind | null = 'backup'): RunRecord | undefined {
    const row = this.lastSuccessStatement.get({ jobId, kind });
    return row === undefined ? undefined : toRunRecord(row);
  }

  /** Runs that are `queued` or `running` (of one job, or of all jobs), oldest first. */
  active(jobId?: number): RunRecord[] {
    return this.activeStatement.all({ jobId: jobId ?? null }).map(toRunRecord);
  }

  /**
   * For service start-up, before any new run is created: every run still
   * `queued` or `running` was left so by a previous process and can never
   * finish; mark it `failed` with error {@link INTERRUPTED_RUN_ERROR} and
   * `endedAt` = `now` (when the interruption was noticed). `phase` is kept,
   * showing where the run stopped. Returns how many runs were marked.
   */
  markInterrupted(now: Date = this.now()): number {
    return this.markInterruptedStatement.run({ error: INTERRUPTED_RUN_ERROR, now: now.toISOString() }).changes;
  }

  /**
   * Mark the run as seen by a person, so it no longer counts among
   * {@link unacknowledgedFailures}. Acknowledging twice is harmless.
   *
   * @throws {RecordNotFoundError} no run has this id
   */
  acknowledge(id: number): void {
    if (this.acknowledgeStatement.run(id).changes === 0) throw new RecordNotFoundError('runs', id);
  }

  /** Runs with status `failed` that nobody has acknowledged yet, newest first. */
  unacknowledgedFailures(): RunRecord[] {
    return this.unacknowledgedFailuresStatement.all().map(toRunRecord);
  }
}

function toRunRecord(row: RunRow): RunRecord {
  return {
    id: row.id,
    jobId: row.job_id,
    kind: row.kind,
    trigger: row.trigger,
    scheduledFor: row.scheduled_for,
    queuedAt: row.queued_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    status: row.status,
    phase: row.phase,
    reason: row.reason,
    snapshotId: row.snapshot_id,
    filesNew: row.files_new,
    filesChanged: row.files_changed,
    filesUnmodified: row.files_unmodified,
    bytesProcessed: row.bytes_processed,
    bytesAdded: row.bytes_added,
    errorCount: row.error_count,
    error: row.error,
    acknowledged: row.acknowledged === 1,
  };
}

/** `log` cut to at most {@link RUN_LOG_MAX_BYTES} UTF-8 bytes: the marker, then the newest text that fits. */
function capLog(log: string): string {
  const whole = Buffer.from(log, 'utf8');
  if (whole.length <= RUN_LOG_MAX_BYTES) return log;
  const marker = Buffer.from(RUN_LOG_TRUNCATION_MARKER, 'utf8');
  const body = whole.subarray(0, marker.length).equals(marker) ? whole.subarray(marker.length) : whole;
  let start = Math.max(0, body.length - (RUN_LOG_MAX_BYTES - marker.length));
  while (start < body.length && ((body[start] ?? 0) & 0xc0) === 0x80) start++; // not inside a character
  if (start > 0 && body[start - 1] !== 0x0a) {
    // Start at the next line if that loses little.
    const newline = body.indexOf(0x0a, start);
    if (newline !== -1 && newline + 1 < body.length && newline - start < 4096) start = newline + 1;
  }
  return RUN_LOG_TRUNCATION_MARKER + body.subarray(start).toString('utf8');
}

const TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * A time in the stored form (`Date#toISOString()`), from an ISO-8601
 * date-time with a `Z` or `±HH:MM` offset; null stays null where allowed.
 */
function canonicalTime(value: unknown, field: string, kind: 'nullable' | 'required'): string | null {
  if (value === null && kind === 'nullable') return null;
  const problem = 'must be an ISO-8601 time with an offset, like 2025-01-02T03:04:05.000Z';
  if (typeof value !== 'string') throw new ValidationError(field, problem);
  const m = TIME.exec(value);
  if (m === null) throw new ValidationError(field, `${JSON.stringify(value)} ${problem.replace('must be', 'is not')}`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((part) => Number(part ?? 0)) as [number, number, number, number, number, number];
  const milliseconds = m[7] === undefined ? 0 : Number(`${m[7].slice(1)}00`.slice(0, 3));
  const local = new Date(0);
  local.setUTCFullYear(year, month - 1, day); // unlike Date.UTC, keeps years 0..99 as they are
  local.setUTCHours(hour, minute, second, milliseconds);
  if (local.getUTCMonth() !== month - 1 || local.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new ValidationError(field, `${JSON.stringify(value)} is not a valid date and time`);
  }
  const offset = m[8] as string;
  if (offset !== 'Z' && (Number(offset.slice(1, 3)) > 23 || Number(offset.slice(4, 6)) > 59)) {
    throw new ValidationError(field, `${JSON.stringify(value)} has an impossible UTC offset`);
  }
  const offsetMinutes = offset === 'Z' ? 0 : (offset.startsWith('-') ? -1 : 1) * (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4, 6)));
  const instant = new Date(local.getTime() - offsetMinutes * 60_000);
  const year4 = instant.getUTCFullYear();
  if (year4 < 0 || year4 > 9999) throw new ValidationError(field, `${JSON.stringify(value)} is out of range`);
  return instant.toISOString();
}

function requireId(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new ValidationError(field, 'must be a whole number');
  return value;
}

function missingJob(jobId: number): ValidationError {
  return new ValidationError('jobId', `no job with id ${JSON.stringify(jobId)}`);
}

function isForeignKeyViolation(error: unknown): boolean {
  return error instanceof Error && (error as Error & { code?: unknown }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}
