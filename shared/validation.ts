/** Input validation shared by main (which validates everything crossing the API) and the UI. */

/** Bad input: names the field (dotted path, e.g. "sources.paths[2]") and says what is wrong. */
export class ValidationError extends Error {
  constructor(readonly field: string, readonly problem: string) {
    super(`${field}: ${problem}`);
    this.name = 'ValidationError';
  }
}

export function requireObject(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ValidationError(field, 'must be an object');
  return v as Record<string, unknown>;
}

export function requireString(v: unknown, field: string, opts: { allowEmpty?: boolean; max?: number } = {}): string {
  if (typeof v !== 'string') throw new ValidationError(field, 'must be text');
  if (!opts.allowEmpty && v.trim() === '') throw new ValidationError(field, 'must not be empty');
  if (opts.max !== undefined && v.length > opts.max) throw new ValidationError(field, `must be at most ${opts.max} characters`);
  return v;
}

export function requireInt(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new ValidationError(field, `must be a whole number from ${min} to ${max}`);
  return v;
}

export function requireBoolean(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw new ValidationError(field, 'must be true or false');
  return v;
}

export function requireOneOf<T extends string>(v: unknown, field: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new ValidationError(field, `must be one of ${allowed.join(', ')}`);
  return v as T;
}

export function requireStringArray(v: unknown, field: string, opts: { min?: number } = {}): string[] {
  if (!Array.isArray(v)) throw new ValidationError(field, 'must be a list');
  if (opts.min !== undefined && v.length < opts.min) throw new ValidationError(field, `must have at least ${opts.min} entr${opts.min === 1 ? 'y' : 'ies'}`);
  return v.map((x, i) => requireString(x, `${field}[${i}]`));
}

/** Rejects keys the schema does not know, so a typo never silently drops a setting. */
export function rejectUnknownKeys(o: Record<string, unknown>, field: string, known: readonly string[]): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new ValidationError(field ? `${field}.${k}` : k, 'is not a known setting');
}
