import { readFileSync } from 'node:fs';

/** Repository and password options shared by every repository command, with their environment fallbacks. */
export interface RepoOptions {
  repo?: string;
  passwordFile?: string;
}

/** Resolves the repository location: --repo, then LIFEBOAT_REPOSITORY. */
export function repositoryLocation(opts: RepoOptions, env = process.env): string {
  const loc = opts.repo ?? env.LIFEBOAT_REPOSITORY;
  if (!loc) throw new UsageError('repository: give -r/--repo DIR or set LIFEBOAT_REPOSITORY');
  return loc;
}

/**
 * Resolves the password: --password-file, LIFEBOAT_PASSWORD_FILE, then
 * LIFEBOAT_PASSWORD. A password file's single trailing newline is dropped (as restic does).
 */
export function repositoryPassword(opts: RepoOptions, env = process.env): string {
  const file = opts.passwordFile ?? env.LIFEBOAT_PASSWORD_FILE;
  if (file) {
    const pw = readSecretFile(file, 'password-file');
    if (!pw) throw new UsageError('password-file: the file given is empty');
    return pw;
  }
  if (env.LIFEBOAT_PASSWORD) return env.LIFEBOAT_PASSWORD;
  throw new UsageError('password: give --password-file FILE, or set LIFEBOAT_PASSWORD_FILE or LIFEBOAT_PASSWORD');
}

/** Parses --time "YYYY-MM-DD HH:MM:SS" (local time) to nanoseconds. */
export function parseLocalTime(text: string, field = 'time'): bigint {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/.exec(text.trim());
  if (!m) throw new UsageError(`${field}: ${JSON.stringify(text)} is not "YYYY-MM-DD HH:MM:SS"`);
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  const date = new Date(y!, mo! - 1, d!, h!, mi!, s!);
  if (date.getFullYear() !== y || date.getMonth() !== mo! - 1 || date.getDate() !== d || date.getHours() !== h || date.getMinutes() !== mi) {
    throw new UsageError(`${field}: ${JSON.stringify(text)} is not a valid local time`);
  }
  return BigInt(date.getTime()) * 1_000_000n;
}

/** Parses a positive integer option within bounds. */
export function parseIntOption(text: string, field: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${field}: ${JSON.stringify(text)} must be a whole number from ${min} to ${max}`);
  return n;
}

/** An error in how the command was called; exit code 1 with the message, no stack. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Reads a secret from the file an option names, less one trailing newline (as restic does)
 * unless `keepNewline`. When it cannot be read, the error names the option, not the file:
 * a secret typed where its file's name belongs must not be echoed.
 */
export function readSecretFile(file: string, option: string, keepNewline = false): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${option}: the file given cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return keepNewline ? text : text.replace(/\r?\n$/, '');
}
