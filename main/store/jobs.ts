import type { Database, Statement } from 'better-sqlite3';
import { withJobDefaults, type Job, type JobConfig } from '../../shared/jobs.js';
import { ValidationError } from '../../shared/validation.js';
import { DuplicateValueError, RecordNotFoundError } from './errors.js';

/** Optional conditions for {@link JobStore.list}; omitted ones don't filter. */
export interface JobListFilter {
  /** Only jobs whose `enabled` is this. */
  readonly enabled?: boolean;
  /** Only jobs that back up to this repository. */
  readonly repositoryId?: number;
}

interface JobRow {
  id: number;
  name: string;
  repository_id: number;
  config: string;
  enabled: number;
  created_at: string;
  updated_at: string;
}

const COLUMNS = 'id, name, repository_id, config, enabled, created_at, updated_at';

/**
 * Typed access to the `jobs` table through prepared statements.
 *
 * A job is stored as its whole {@link JobConfig} (JSON) plus the columns
 * `name`, `repository_id` and `enabled` that mirror three of its fields.
 * The store does not validate configurations (callers run
 * `validateJobConfig` first); it only enforces what the schema does:
 * a unique, non-blank, trimmed name of at most 200 characters (other
 * violations surface as an `SqliteError` naming the CHECK constraint), and
 * an existing repository.
 */
export class JobStore {
  private readonly insertStatement: Statement<[Record<string, unknown>], JobRow>;
  private readonly byIdStatement: Statement<[number], JobRow>;
  private readonly byNameStatement: Statement<[string], JobRow>;
  private readonly listStatement: Statement<[{ enabled: number | null; repositoryId: number | null }], JobRow>;
  private readonly updateStatement: Statement<[Record<string, unknown>], JobRow>;
  private readonly deleteStatement: Statement<[number]>;
  private readonly repositoryExistsStatement: Statement<[number], { found: number }>;

  /**
   * @param db an open connection whose schema is at least version 2; with
   *   `foreign_keys = ON` (as `openDatabase` sets it) so removing a job
   *   removes its runs
   * @param now the clock used for `createdAt` / `updatedAt` (injectable for tests)
   */
  constructor(
    private readonly db: Database,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.insertStatement = db.prepare(
      `INSERT INTO jobs (name, repository_id, config, enabled, created_at, updated_at)
       VALUES (@name, @repositoryId, @config, @enabled, @now, @now)
       RETURNING ${COLUMNS}`,
    );
    this.byIdStatement = db.prepare(`SELECT ${COLUMNS} FROM jobs WHERE id = ?`);
    this.byNameStatement = db.prepare(`SELECT ${COLUMNS} FROM jobs WHERE name = ?`);
    this.listStatement = db.prepare(
      `SELECT ${COLUMNS} FROM jobs
        WHERE (@enabled IS NULL OR enabled = @enabled)
          AND (@repositoryId IS NULL OR repository_id = @repositoryId)
        ORDER BY name, id`,
    );
    this.updateStatement = db.prepare(
      `UPDATE jobs
          SET name = @name, repository_id = @repositoryId, config = @config, enabled = @enabled, updated_at = @now
        WHERE id = @id
       RETURNING ${COLUMNS}`,
    );
    this.deleteStatement = db.prepare('DELETE FROM jobs WHERE id = ?');
    this.repositoryExistsStatement = db.prepare('SELECT count(*) AS found FROM repositories WHERE id = ?');
  }

  /**
   * Store a new job and return it with its id and timestamps.
   *
   * @throws {DuplicateValueError} a job with this name exists (`field` is `'name'`)
   * @throws {ValidationError} no repository has id `config.repositoryId` (`field` is `'repositoryId'`)
   */
  add(config: JobConfig): Job {
    const run = this.db.transaction((): JobRow => {
      this.requireRepository(config.repositoryId);
      return this.write(config, () => this.insertStatement.get(this.parameters(config)) as JobRow);
    });
    return toJob(run());
  }

  /** The job with this id, or undefined. */
  get(id: number): Job | undefined {
    const row = this.byIdStatement.get(id);
    return row === undefined ? undefined : toJob(row);
  }

  /** The job with exactly this name (case-sensitive), or undefined. */
  getByName(name: string): Job | undefined {
    const row = this.byNameStatement.get(name);
    return row === undefined ? undefined : toJob(row);
  }

  /** All jobs (or those matching `filter`), ordered by name. */
  list(filter: JobListFilter = {}): Job[] {
    return this.listStatement
      .all({
        enabled: filter.enabled === undefined ? null : filter.enabled ? 1 : 0,
        repositoryId: filter.repositoryId ?? null,
      })
      .map(toJob);
  }

  /**
   * Replace a job's whole configuration and return the job as stored;
   * `updatedAt` is set to now, `createdAt` and the id are kept.
   *
   * @throws {RecordNotFoundError} no job has this id
   * @throws {DuplicateValueError} the new name is taken by another job (`field` is `'name'`)
   * @throws {ValidationError} no repository has id `config.repositoryId` (`field` is `'repositoryId'`)
   */
  update(id: number, config: JobConfig): Job {
    const run = this.db.transaction((): JobRow => {
      if (this.byIdStatement.get(id) === undefined) throw new RecordNotFoundError('jobs', id);
      this.requireRepository(config.repositoryId);
      return this.write(config, () => this.updateStatement.get({ id, ...this.parameters(config) }) as JobRow);
    });
    return toJob(run());
  }

  /** Delete a job together with all its runs. Returns whether the job existed. */
  remove(id: number): boolean {
    return this.deleteStatement.run(id).changes > 0;
  }

  private parameters(config: JobConfig): Record<string, unknown> {
    return {
      name: config.name,
      repositoryId: config.repositoryId,
      config: serialiseConfig(config),
      enabled: config.enabled ? 1 : 0,
      now: this.now().toISOString(),
    };
  }

  private requireRepository(repositoryId: number): void {
    if (!Number.isSafeInteger(repositoryId) || this.repositoryExistsStatement.get(repositoryId)?.found !== 1) {
      throw missingRepository(repositoryId);
    }
  }

  private write(config: JobConfig, write: () => JobRow): JobRow {
    try {
      return write();
    } catch (error) {
      if (isConstraintViolation(error, 'SQLITE_CONSTRAINT_UNIQUE', 'jobs.name')) {
        throw new DuplicateValueError('jobs', 'name', config.name, 'job');
      }
      // The only foreign key of `jobs` is repository_id (backstop for a
      // repository deleted by another connection since the check above).
      if (isConstraintViolation(error, 'SQLITE_CONSTRAINT_FOREIGNKEY')) throw missingRepository(config.repositoryId);
      throw error;
    }
  }
}

/**
 * The JSON stored in `jobs.config`: the configuration without the fields a
 * {@link Job} adds (so passing a whole `Job` as its own config stores no
 * stale id or timestamps).
 */
function serialiseConfig(config: JobConfig): string {
  const { id: _id, createdAt: _createdAt, updatedAt: _updatedAt, ...rest } = config as JobConfig & Partial<Pick<Job, 'id' | 'createdAt' | 'updatedAt'>>;
  return JSON.stringify(rest);
}

function toJob(row: JobRow): Job {
  // Jobs stored before a setting existed read back with its default.
  const config = withJobDefaults(JSON.parse(row.config) as JobConfig);
  return {
    id: row.id,
    ...config,
    name: row.name,
    repositoryId: row.repository_id,
    enabled: row.enabled === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function missingRepository(repositoryId: number): ValidationError {
  return new ValidationError('repositoryId', `no repository with id ${JSON.stringify(repositoryId)}`);
}

function isConstraintViolation(error: unknown, code: string, column?: string): boolean {
  if (!(error instanceof Error)) return false;
  return (error as Error & { code?: unknown }).code === code && (column === undefined || error.message.includes(column));
}
