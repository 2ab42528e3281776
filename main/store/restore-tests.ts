import type { Database, Statement } from 'better-sqlite3';
import type { RestoreTestHistory, RestoreTestProblem, RestoreTestRecord, RestoreTestScope } from '../../shared/restore-test.js';
import { RecordNotFoundError } from './errors.js';

/** A restore test's evidence as {@link RestoreTestStore.add} takes it: everything but the id and the sign-off. */
export type NewRestoreTest = Omit<RestoreTestRecord, 'id' | 'operator' | 'note' | 'signedOffAt'>;

/** Conditions for {@link RestoreTestStore.list}; omitted ones don't filter. */
export interface RestoreTestListFilter {
  readonly jobId?: number;
  /** Only the test carried out by this run. */
  readonly runId?: number;
  /** Only tests that ended at or after this time (ISO, `toISOString()` form). */
  readonly from?: string;
  /** Only tests that ended at or before this time (ISO, `toISOString()` form). */
  readonly to?: string;
  readonly limit?: number;
}

interface Row {
  id: number;
  job_id: number | null;
  job_name: string | null;
  run_id: number | null;
  repository_location: string;
  repository_id: string;
  snapshot_id: string;
  snapshot_time: string;
  trigger: RestoreTestRecord['trigger'];
  scope: string;
  seed: number;
  sample: string;
  files_planned: number;
  bytes_planned: number;
  files_restored: number;
  bytes_restored: number;
  files_verified: number;
  files_compared_with_source: number;
  mismatches: string;
  not_restored: string;
  started_at: string;
  ended_at: string;
  duration_ms: number;
  estimated_full_restore_ms: number;
  target_rto_minutes: number | null;
  rto_met: number | null;
  passed: number;
  failures: string;
  operator: string | null;
  note: string | null;
  signed_off_at: string | null;
  app_version: string;
  sandbox_path: string;
  sandbox_kept: number;
}

/**
 * Typed access to the `restore_tests` table (schema 3): the evidence of
 * every restore test. Records are written once when a test ends; only the
 * sign-off (operator, note, time) is added later. Constraints of the schema
 * (a passing test has no problems, ids are hex, times are ISO) surface as an
 * `SqliteError` naming the CHECK constraint. Lists are newest first.
 */
export class RestoreTestStore {
  private readonly insertStatement: Statement<[Record<string, unknown>], Row>;
  private readonly byIdStatement: Statement<[number], Row>;
  private readonly signOffStatement: Statement<[{ id: number; operator: string; note: string | null; at: string }], Row>;
  private readonly listStatement: Statement<[{ jobId: number | null; runId: number | null; from: string | null; to: string | null; limit: number }], Row>;
  private readonly lastPassedStatement: Statement<[number], { at: string | null }>;
  private readonly lastStatement: Statement<[number], { ended_at: string; passed: number }>;

  /** @param db an open connection whose schema is at least version 3 */
  constructor(private readonly db: Database) {
    this.insertStatement = db.prepare(
      `INSERT INTO restore_tests (job_id, job_name, run_id, repository_location, repository_id, snapshot_id, snapshot_time, "trigger", scope, seed,
         sample, files_planned, bytes_planned, files_restored, bytes_restored, files_verified, files_compared_with_source, mismatches, not_restored,
         started_at, ended_at, duration_ms, estimated_full_restore_ms, target_rto_minutes, rto_met, passed, failures, app_version, sandbox_path, sandbox_kept)
       VALUES (@jobId, @jobName, @runId, @repositoryLocation, @repositoryId, @snapshotId, @snapshotTime, @trigger, @scope, @seed,
         @sample, @filesPlanned, @bytesPlanned, @filesRestored, @bytesRestored, @filesVerified, @filesComparedWithSource, @mismatches, @notRestored,
         @startedAt, @endedAt, @durationMs, @estimatedFullRestoreMs, @targetRtoMinutes, @rtoMet, @passed, @failures, @appVersion, @sandboxPath, @sandboxKept)
       RETURNING *`,
    );
    this.byIdStatement = db.prepare('SELECT * FROM restore_tests WHERE id = ?');
    this.signOffStatement = db.prepare('UPDATE restore_tests SET operator = @operator, note = @note, signed_off_at = @at WHERE id = @id RETURNING *');
    this.listStatement = db.prepare(
      `SELECT * FROM restore_tests
        WHERE (@jobId IS NULL OR job_id = @jobId) AND (@runId IS NULL OR run_id = @runId) AND (@from IS NULL OR ended_at >= @from) AND (@to IS NULL OR ended_at <= @to)
        ORDER BY ended_at DESC, id DESC LIMIT @limit`,
    );
    this.lastPassedStatement = db.prepare('SELECT max(ended_at) AS at FROM restore_tests WHERE job_id = ? AND passed = 1');
    this.lastStatement = db.prepare('SELECT ended_at, passed FROM restore_tests WHERE job_id = ? ORDER BY ended_at DESC, id DESC LIMIT 1');
  }

  /** Store a test's evidence and return it with its id. */
  add(t: NewRestoreTest): RestoreTestRecord {
    const row = this.insertStatement.get({
      ...t,
      scope: JSON.stringify(t.scope),
      sample: JSON.stringify(t.sample),
      mismatches: JSON.stringify(t.mismatches),
      notRestored: JSON.stringify(t.notRestored),
      failures: JSON.stringify(t.failures),
      rtoMet: t.rtoMet === null ? null : t.rtoMet ? 1 : 0,
      passed: t.passed ? 1 : 0,
      sandboxKept: t.sandboxKept ? 1 : 0,
    }) as Row;
    return toRecord(row);
  }

  /** The test with this id, or undefined. */
  get(id: number): RestoreTestRecord | undefined {
    const row = this.byIdStatement.get(id);
    return row === undefined ? undefined : toRecord(row);
  }

  /**
   * Record the operator's sign-off (replacing an earlier one) and return the test.
   *
   * @throws {RecordNotFoundError} no test has this id
   */
  signOff(id: number, operator: string, note: string | null, at: Date): RestoreTestRecord {
    const row = this.signOffStatement.get({ id, operator, note, at: at.toISOString() });
    if (row === undefined) throw new RecordNotFoundError('restore_tests', id);
    return toRecord(row);
  }

  /** Tests matching `filter`, newest first. */
  list(filter: RestoreTestListFilter = {}): RestoreTestRecord[] {
    return this.listStatement.all({ jobId: filter.jobId ?? null, runId: filter.runId ?? null, from: filter.from ?? null, to: filter.to ?? null, limit: filter.limit ?? -1 }).map(toRecord);
  }

  /** What `restoreTestDue` needs of a job's tests. */
  history(jobId: number): RestoreTestHistory {
    const last = this.lastStatement.get(jobId);
    return {
      lastPassedAt: this.lastPassedStatement.get(jobId)?.at ?? null,
      lastTest: last ? { endedAt: last.ended_at, passed: last.passed === 1 } : null,
    };
  }
}

function toRecord(r: Row): RestoreTestRecord {
  return {
    id: r.id,
    jobId: r.job_id,
    jobName: r.job_name,
    runId: r.run_id,
    repositoryLocation: r.repository_location,
    repositoryId: r.repository_id,
    snapshotId: r.snapshot_id,
    snapshotTime: r.snapshot_time,
    trigger: r.trigger,
    scope: JSON.parse(r.scope) as RestoreTestScope,
    seed: r.seed,
    sample: JSON.parse(r.sample) as string[],
    filesPlanned: r.files_planned,
    bytesPlanned: r.bytes_planned,
    filesRestored: r.files_restored,
    bytesRestored: r.bytes_restored,
    filesVerified: r.files_verified,
    filesComparedWithSource: r.files_compared_with_source,
    mismatches: JSON.parse(r.mismatches) as RestoreTestProblem[],
    notRestored: JSON.parse(r.not_restored) as RestoreTestProblem[],
    startedAt: r.started_at,
    endedAt: r.ended_at,
    durationMs: r.duration_ms,
    estimatedFullRestoreMs: r.estimated_full_restore_ms,
    targetRtoMinutes: r.target_rto_minutes,
    rtoMet: r.rto_met === null ? null : r.rto_met === 1,
    passed: r.passed === 1,
    failures: JSON.parse(r.failures) as string[],
    operator: r.operator,
    note: r.note,
    signedOffAt: r.signed_off_at,
    appVersion: r.app_version,
    sandboxPath: r.sandbox_path,
    sandboxKept: r.sandbox_kept === 1,
  };
}
