import type { Database, Statement } from 'better-sqlite3';

/**
 * Typed access to the `settings` key/value table. Values are stored as JSON
 * text (the schema rejects anything that is not valid JSON); keys are
 * non-blank strings without surrounding whitespace.
 *
 * `get` does not validate the shape of what it returns: `T` is the caller's
 * promise about what was stored under `key`.
 */
export class SettingsStore {
  private readonly getStatement: Statement<[string], { value: string }>;
  private readonly upsertStatement: Statement<[{ key: string; value: string; now: string }]>;
  private readonly deleteStatement: Statement<[string]>;

  /**
   * @param db an open connection whose schema is at least version 1
   * @param now the clock used for `updated_at` (injectable for tests)
   */
  constructor(
    db: Database,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.getStatement = db.prepare('SELECT value FROM settings WHERE key = ?');
    this.upsertStatement = db.prepare(
      `INSERT INTO settings (key, value, updated_at) VALUES (@key, @value, @now)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
    );
    this.deleteStatement = db.prepare('DELETE FROM settings WHERE key = ?');
  }

  /**
   * The value stored under `key`, parsed from JSON, or `fallback` if the key
   * is absent. A stored JSON `null` is returned as `null`, not as the fallback.
   */
  get<T>(key: string, fallback: T): T {
    const row = this.getStatement.get(key);
    return row === undefined ? fallback : (JSON.parse(row.value) as T);
  }

  /**
   * Store `value` (serialised with `JSON.stringify`) under `key`, replacing
   * any previous value.
   *
   * @throws {TypeError} `value` has no JSON form (undefined, a function, a
   *   symbol) or cannot be serialised (a BigInt, a cycle)
   */
  set(key: string, value: unknown): void {
    const json: string | undefined = JSON.stringify(value);
    if (json === undefined) {
      throw new TypeError(`setting "${key}": a ${typeof value} value cannot be stored as JSON`);
    }
    this.upsertStatement.run({ key, value: json, now: this.now().toISOString() });
  }

  /** Remove `key`. Returns whether it existed. */
  delete(key: string): boolean {
    return this.deleteStatement.run(key).changes > 0;
  }
}
