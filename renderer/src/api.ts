/** The UI's one way to the service: the API contract over the headless host's cookie-authorised HTTP transport. */
import { ApiError, cookieTransport, createApiClient } from '../../shared/api-client.js';

export const api = createApiClient(cookieTransport());

/** The text of an error for the admin; a validation error's "field: " prefix is dropped when shown next to that field. */
export function errorText(e: unknown, dropField = false): string {
  if (e instanceof ApiError) {
    if (dropField && e.field && e.message.startsWith(`${e.field}: `)) return e.message.slice(e.field.length + 2);
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

export { ApiError };
