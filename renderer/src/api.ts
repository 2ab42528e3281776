/**
 * The UI's one way to the service: the API contract over the desktop window's preload bridge
 * (`window.lifeboat`, Electron) or, in a browser, the headless host's cookie-authorised HTTP.
 */
import { ApiError, bridgeTransport, cookieTransport, createApiClient } from '../../shared/api-client.js';
import type { LifeboatBridge } from '../../shared/ipc.js';

/** The preload's bridge when running in the desktop window. */
export const bridge: LifeboatBridge | undefined = (window as { lifeboat?: LifeboatBridge }).lifeboat;

export const api = createApiClient(bridge ? bridgeTransport(bridge) : cookieTransport());

/** The text of an error for the admin; a validation error's "field: " prefix is dropped when shown next to that field. */
export function errorText(e: unknown, dropField = false): string {
  if (e instanceof ApiError) {
    if (dropField && e.field && e.message.startsWith(`${e.field}: `)) return e.message.slice(e.field.length + 2);
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

export { ApiError };
