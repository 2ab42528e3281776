import type { Database, Statement } from 'better-sqlite3';
import { DuplicateValueError, RecordNotFoundError } from './errors.js';

/** A backup repository Lifeboat knows about (one row of `repositories`). */
export interface Repository {
  /** Row id, assigned by SQLite. */
  readonly id: number;
  /** Unique, non-blank display name without surrounding whitespace (at most 200 characters). */
  readonly name: string;
  /** Where the repository lives: a restic-style URL (`sftp:host:/path`, `s3:...`) or a local path. */
  readonly location: string;
  /**
   * Reference to the repository password in the OS keychain, or null if none
   * is stored yet. This is never the password itself.
   */
  readonly passwordRef: string | null;
  /** The restic repository id (64 lowercase hex digits from its `config`) once known, else null. */
  readonly repositoryId: string | null;
  /** When the row was added, UTC ISO-8601. */
  readonly createdAt: string;
  /** When the row last changed, UTC ISO-8601. */
  readonly updatedAt: string;
}

/** What {@link RepositoryStore.add} needs; omitted optional fields are stored as null. */
export interface NewRepository {
  /** See {@link Repository.name}. */
  readonly name: string;
  /** See {@link Repository.location}. */
  readonly location: string;
  /** See {@link Repository.passwordRef}. A keychain reference, NEVER the password. */
  readonly passwordRef?: string | null;
  /** See {@link Repository.repositoryId}. */
  readonly repositoryId?: string | null;
}

/**
 * Fields to change in {@link RepositoryStore.update}: omitted (undefined)
 * fields keep their value, `null` clears a nullable field.
 */
export type RepositoryPatch = Partial<NewRepository>;

interface RepositoryRow {
  id: number;
  name: string;
  location: string;
  password_ref: string | null;
  repository_id: string | null;
  created_at: string;
  updated_at: string;
}

const COLUMNS = 'id, name, location, password_ref, repository_id, created_at, updated_at';

/**
 * Typed access to the `repositories` table through prepared statements.
 *
 * Values are validated by the schema's CHECK constraints (blank or
 * untrimmed names, blank locations, malformed restic ids are rejected with
 * an `SqliteError` naming the constraint); a name that is already taken
 * raises {@link DuplicateValueError} with `field === 'name'`.
 */
export class RepositoryStore {
  private readonly insertStatement: Statement<[Record<string, unknown>], RepositoryRow>;
  private readonly byIdStatement: Statement<[number], RepositoryRow>;
  private readonly byNameStatement: Statement<[string], RepositoryRow>;
  private readonly listStatement: Statement<[], RepositoryRow>;
  private readonly updateStatement: Statement<[Record<string, unknown>], RepositoryRow>;
  private readonly deleteStatement: Statement<[number]>;

  /**
   * @param db an open connection whose schema is at least version 1
   * @param now the clock used for `created_at` / `updated_at` (injectable for tests)
   */
  constructor(
    private readonly db: Database,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.insertStatement = db.prepare(
      `INSERT INTO repositories (name, location, password_ref, repository_id, created_at, updated_at)
       VALUES (@name, @location, @passwordRef, @repositoryId, @now, @now)
       RETURNING ${COLUMNS}`,
    );
    this.byIdStatement = db.prepare(`SELECT ${COLUMNS} FROM repositories WHERE id = ?`);
    this.byNameStatement = db.prepare(`SELECT ${COLUMNS} FROM repositories WHERE name = ?`);
    this.listStatement = db.prepare(`SELECT ${COLUMNS} FROM repositories ORDER BY name, id`);
    this.updateStatement = db.prepare(
      `UPDATE repositories
          SET name = @name, location = @location, password_ref = @passwordRef,
              repository_id = @repositoryId, updated_at = @now
        WHERE id = @id
       RETURNING ${COLUMNS}`,
    );
    this.deleteStatement = db.prepare('DELETE FROM repositories WHERE id = ?');
  }

  /**
   * Add a repository and return it as stored (with its id and timestamps).
   *
   * @throws {DuplicateValueError} a repository with this name exists (`field` is `'name'`)
   */
  add(input: NewRepository): Repository {
    const row = this.withUniqueNames(input.name, () =>
      this.insertStatement.get({
        name: input.name,
        location: input.location,
        passwordRef: input.passwordRef ?? null,
        repositoryId: input.repositoryId ?? null,
        now: this.now().toISOString(),
      }),
    );
    return toRepository(row as RepositoryRow);
  }

  /** The repository with this id, or undefined. */
  get(id: number): Repository | undefined {
    const row = this.byIdStatement.get(id);
    return row === undefined ? undefined : toRepository(row);
  }

  /** The repository with exactly this name (case-sensitive), or undefined. */
  getByName(name: string): Repository | undefined {
    const row = this.byNameStatement.get(name);
    return row === undefined ? undefined : toRepository(row);
  }

  /** All repositories, ordered by name. */
  list(): Repository[] {
    return this.listStatement.all().map(toRepository);
  }

  /**
   * Change some fields of a repository and return it as stored; `updatedAt`
   * is set to now. Read-modify-write happens in one transaction.
   *
   * @throws {RecordNotFoundError} no repository has this id
   * @throws {DuplicateValueError} the new name is taken by another repository
   */
  update(id: number, patch: RepositoryPatch): Repository {
    const run = this.db.transaction((): RepositoryRow => {
      const current = this.byIdStatement.get(id);
      if (current === undefined) throw new RecordNotFoundError('repositories', id);
      const name = patch.name ?? current.name;
      return this.withUniqueNames(name, () =>
        this.updateStatement.get({
          id,
          name,
          location: patch.location ?? current.location,
          passwordRef: patch.passwordRef === undefined ? current.password_ref : patch.passwordRef,
          repositoryId: patch.repositoryId === undefined ? current.repository_id : patch.repositoryId,
          now: this.now().toISOString(),
        }),
      ) as RepositoryRow;
    });
    return toRepository(run());
  }

  /** Delete a repository. Returns whether a row was deleted. */
  remove(id: number): boolean {
    return this.deleteStatement.run(id).changes > 0;
  }

  private withUniqueNames<T>(name: string, write: () => T): T {
    try {
      return write();
    } catch (error) {
      if (isUniqueViolation(error, 'repositories.name')) {
        throw new DuplicateValueError('repositories', 'name', name, 'repository');
      }
      throw error;
    }
  }
}

function toRepository(row: RepositoryRow): Repository {
  return {
    id: row.id,
    name: row.name,
    location: row.location,
    passwordRef: row.password_ref,
    repositoryId: row.repository_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function isUniqueViolation(error: unknown, column: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as Error & { code?: unknown }).code;
  return (
    (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') &&
    error.message.includes(column)
  );
}
