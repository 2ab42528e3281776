import { API_METHODS, type LifeboatApi } from '../../shared/api.js';
import type { CallOutcome } from '../../shared/ipc.js';
import { ValidationError } from '../../shared/validation.js';

/**
 * Performs one call that arrived from an untrusted page (the desktop
 * window's IPC): the method must be one of `API_METHODS` and the arguments a
 * list; the service validates the arguments themselves. Never throws: errors
 * come back as a `CallOutcome` that keeps the field a validation error names.
 */
export async function dispatchCall(api: LifeboatApi, method: unknown, args: unknown): Promise<CallOutcome> {
  if (typeof method !== 'string' || !(API_METHODS as readonly string[]).includes(method)) {
    return { ok: false, error: { message: 'method: no such method', field: 'method', validation: true } };
  }
  if (!Array.isArray(args)) return { ok: false, error: { message: 'args: must be the list of arguments', field: 'args', validation: true } };
  try {
    const fn = api[method as keyof LifeboatApi] as (...a: unknown[]) => Promise<unknown>;
    const result = await fn.apply(api, args);
    // What crosses IPC is structured-cloned; undefined becomes null as over HTTP.
    return { ok: true, result: result ?? null };
  } catch (e) {
    if (e instanceof ValidationError) return { ok: false, error: { message: e.message, field: e.field, validation: true } };
    return { ok: false, error: { message: (e as Error).message, field: null, validation: false } };
  }
}
