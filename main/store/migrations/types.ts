import type { Database } from 'better-sqlite3';

/**
 * One step of the schema history. Version `N` turns a schema-`N-1` database
 * into a schema-`N` one.
 *
 * Rules for writing one (the runner in `../migrate.ts` relies on them):
 * - Live in `NNN-<name>.ts` where `NNN` is the zero-padded version, and be
 *   listed in `./index.ts`. Never edit a migration once released; add a new one.
 * - `up` is synchronous and runs inside the transaction the runner opened:
 *   don't BEGIN/COMMIT/ROLLBACK and don't change `PRAGMA user_version`
 *   (the runner sets it in the same transaction). Nested
 *   `db.transaction(...)` calls are fine; they become savepoints.
 * - `up` runs with `foreign_keys = OFF` so tables can be rebuilt
 *   (SQLite's create-copy-drop-rename procedure); the runner runs
 *   `PRAGMA foreign_key_check` before committing and rolls back on violations.
 * - Be self-contained: inline SQL rather than importing helpers or
 *   constants that might change later and silently rewrite history.
 * - Every table is `STRICT`.
 */
export interface Migration {
  /** The schema version this migration produces (1, 2, 3, ... without gaps). */
  readonly version: number;
  /** Kebab-case name, the file name without the `NNN-` prefix and extension. */
  readonly name: string;
  /** Apply the change. Throwing rolls the whole migration back. */
  up(db: Database): void;
}
