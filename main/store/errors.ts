/**
 * Errors raised by the SQLite store. Each carries the facts a caller (or a
 * support log) needs as properties, and a message a person can act on.
 */

/**
 * The database file was written by a newer Lifeboat: its schema version
 * (`PRAGMA user_version`) is greater than the newest migration this build
 * knows. The file is left untouched — no pragma is changed, no migration runs —
 * so the newer Lifeboat can still open it.
 */
export class DatabaseFromTheFutureError extends Error {
  override readonly name = 'DatabaseFromTheFutureError';

  /**
   * @param path the database file that was refused
   * @param databaseVersion the schema version found in the file
   * @param newestKnownVersion the newest schema version this build can migrate to
   */
  constructor(
    readonly path: string,
    readonly databaseVersion: number,
    readonly newestKnownVersion: number,
  ) {
    super(
      `the database at ${path} was written by a newer Lifeboat ` +
        `(schema ${databaseVersion}, this version knows up to ${newestKnownVersion}); upgrade Lifeboat`,
    );
  }
}

/**
 * A migration threw (or left the database inconsistent). Its transaction was
 * rolled back, so the database is at schema `version - 1` with exactly the
 * schema that version had; migrations applied earlier in the same run stay
 * committed. The original error is in `cause`.
 */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';

  /**
   * @param version the schema version the failing migration would have produced
   * @param migrationName the failing migration's name
   * @param cause what went wrong inside the migration
   */
  constructor(
    readonly version: number,
    readonly migrationName: string,
    cause: unknown,
  ) {
    super(
      `migration ${String(version).padStart(3, '0')}-${migrationName} failed and was rolled back ` +
        `(the database stays at schema ${version - 1}): ${describe(cause)}`,
      { cause },
    );
  }
}

/**
 * A write would break a UNIQUE constraint, e.g. adding a second repository
 * with a name that is already taken. `field` names the offending column.
 */
export class DuplicateValueError extends Error {
  override readonly name = 'DuplicateValueError';

  /**
   * @param table the table written to
   * @param field the column whose value must be unique
   * @param value the value that is already taken
   * @param what how to call one row in the message ("repository")
   */
  constructor(
    readonly table: string,
    readonly field: string,
    readonly value: unknown,
    what: string,
  ) {
    super(`a ${what} with ${field} ${JSON.stringify(value)} already exists (${table}.${field} must be unique)`);
  }
}

/** An update addressed a row that does not exist. */
export class RecordNotFoundError extends Error {
  override readonly name = 'RecordNotFoundError';

  /**
   * @param table the table searched
   * @param id the primary key that was not found
   */
  constructor(
    readonly table: string,
    readonly id: number | string,
  ) {
    super(`no row in ${table} with id ${JSON.stringify(id)}`);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
