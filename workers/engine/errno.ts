import { getSystemErrorMap } from 'node:util';

let systemErrors: Map<number, [string, string]> | undefined;

/** Node's wording for a failed call ("EACCES: permission denied, scandir '/x'") from an errno the native addon gives. */
export function errnoMessage(errno: number, syscall: string, file: string): string {
  systemErrors ??= getSystemErrorMap();
  // libuv's codes are the negated errno values on POSIX.
  const [name, text] = systemErrors.get(-errno) ?? [`errno ${errno}`, 'system error'];
  return `${name}: ${text}, ${syscall} '${file}'`;
}

/** The same wording for an error the native addon threw (it carries the `errno`); other errors keep their message. */
export function systemErrorMessage(e: unknown, syscall: string, what: string): string {
  const errno = (e as { errno?: unknown }).errno;
  return typeof errno === 'number' ? errnoMessage(errno, syscall, what) : (e as Error).message;
}
