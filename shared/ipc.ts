/**
 * The desktop shell's IPC contract, derived from the API contract: the
 * channel names, the contract the main process hands its preload (which,
 * sandboxed, cannot load this module), what a call answers, and the object
 * the preload exposes to the page. No call site names a channel or a method
 * as a string: they come from here and from `API_METHODS` / `EVENT_NAMES`.
 */
import { API_METHODS, EVENT_NAMES, type LifeboatApi, type LifeboatEvents } from './api.js';

/** The two channels: one for calls (method name and arguments travel inside), one for events. */
export const IPC_CHANNELS = { call: 'lifeboat:call', event: 'lifeboat:event' } as const;

/** What the preload needs to build the bridge: the methods, the events, the channels. */
export interface BridgeContract {
  methods: readonly (keyof LifeboatApi)[];
  events: readonly (keyof LifeboatEvents)[];
  channels: typeof IPC_CHANNELS;
}

export const BRIDGE_CONTRACT: BridgeContract = { methods: API_METHODS, events: EVENT_NAMES, channels: IPC_CHANNELS };

/** The renderer argument prefix that carries the contract to the preload (base64url JSON, so no quoting issues). */
export const CONTRACT_ARGUMENT = '--lifeboat-contract=';

/** The answer to one call: the result, or the error with the field it names (errors do not survive IPC intact). */
export type CallOutcome = { ok: true; result: unknown } | { ok: false; error: { message: string; field: string | null; validation: boolean } };

/** An event as sent on the event channel. */
export interface BridgeEvent<E extends keyof LifeboatEvents = keyof LifeboatEvents> {
  event: E;
  payload: LifeboatEvents[E];
}

/**
 * What the preload puts on `window.lifeboat`: one function per API method
 * (answering a `CallOutcome`) and a subscription to each event.
 */
export interface LifeboatBridge {
  methods: { [M in keyof LifeboatApi]: (...args: Parameters<LifeboatApi[M]>) => Promise<CallOutcome> };
  on<E extends keyof LifeboatEvents>(event: E, listener: (payload: LifeboatEvents[E]) => void): () => void;
}
