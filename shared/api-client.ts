/**
 * A typed client of the API contract over any transport: the callers' view
 * of `LifeboatApi` is derived from the interface itself, so no call site
 * names a method or channel as a string.
 */
import { API_METHODS, type LifeboatApi } from './api.js';
import type { CallOutcome, LifeboatBridge } from './ipc.js';

/** Sends one call (method name, arguments) and resolves with its result. */
export type ApiTransport = (method: keyof LifeboatApi, args: unknown[]) => Promise<unknown>;

/** An error the service reported, with the field it names when it was a validation error. */
export class ApiError extends Error {
  constructor(message: string, readonly field: string | null, readonly status: number) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Builds a `LifeboatApi` whose every method forwards to `transport`. */
export function createApiClient(transport: ApiTransport): LifeboatApi {
  const client: Partial<Record<keyof LifeboatApi, (...args: unknown[]) => Promise<unknown>>> = {};
  for (const m of API_METHODS) client[m] = (...args: unknown[]) => transport(m, args);
  return client as LifeboatApi;
}

/**
 * The HTTP transport of the headless host: POST {base}/api/{method} with the
 * arguments as a JSON array and the per-start token as a bearer token.
 */
export function httpTransport(baseUrl: string, token: string, fetchImpl: typeof fetch = fetch): ApiTransport {
  return async (method, args) => {
    const res = await fetchImpl(`${baseUrl}/api/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(args),
    });
    const text = await res.text();
    const body = text ? (JSON.parse(text) as { result?: unknown; error?: { message: string; field?: string } }) : {};
    if (!res.ok) throw new ApiError(body.error?.message ?? `HTTP ${res.status}`, body.error?.field ?? null, res.status);
    return body.result;
  };
}

/**
 * The transport of the browser UI served by the headless host: POST
 * {base}/api/{method} with the arguments as a JSON array, authorised by the
 * HttpOnly session cookie the host set when the opening URL was loaded (the
 * page never sees the token).
 */
export function cookieTransport(baseUrl = '', fetchImpl: typeof fetch = (input, init) => fetch(input, init)): ApiTransport {
  return async (method, args) => {
    const res = await fetchImpl(`${baseUrl}/api/${method}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(args),
    });
    const text = await res.text();
    let body: { result?: unknown; error?: { message: string; field?: string } } = {};
    try {
      body = text ? (JSON.parse(text) as typeof body) : {};
    } catch {
      throw new ApiError(`HTTP ${res.status}: the answer was not JSON`, null, res.status);
    }
    if (!res.ok) {
      const message = body.error?.message ?? (res.status === 401 ? 'not authorised: open Lifeboat from the address it printed' : `HTTP ${res.status}`);
      throw new ApiError(message, body.error?.field ?? null, res.status);
    }
    return body.result;
  };
}

/**
 * The transport of the desktop window: the object the Electron preload
 * exposes (`window.lifeboat`), one function per method, answering a
 * `CallOutcome` that keeps the field a validation error names.
 */
export function bridgeTransport(bridge: Pick<LifeboatBridge, 'methods'>): ApiTransport {
  return async (method, args) => {
    const call = bridge.methods[method] as (...a: unknown[]) => Promise<CallOutcome>;
    const outcome = await call(...args);
    if (!outcome.ok) throw new ApiError(outcome.error.message, outcome.error.field, outcome.error.validation ? 400 : 500);
    return outcome.result;
  };
}
