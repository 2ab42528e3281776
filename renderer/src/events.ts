/**
 * Live events from the service: in the desktop window from the preload bridge; in a browser over
 * the host's WebSocket (`/events`, authorised by the session cookie), reconnecting with backoff
 * (views refetch when the connection comes back).
 */
import { useEffect, useRef, useSyncExternalStore } from 'react';
import { EVENT_NAMES, type LifeboatEvents } from '../../shared/api.js';
import { bridge } from './api.js';

export type EventName = keyof LifeboatEvents;
export type ConnectionState = 'connecting' | 'open' | 'closed';
type Listener<E extends EventName> = (payload: LifeboatEvents[E]) => void;


class EventStream {
  private socket: WebSocket | null = null;
  private state: ConnectionState = 'closed';
  private attempts = 0;
  private readonly listeners = Object.fromEntries(EVENT_NAMES.map((e) => [e, new Set()])) as unknown as { [E in EventName]: Set<Listener<E>> };
  private readonly stateListeners = new Set<() => void>();
  private readonly reconnectListeners = new Set<() => void>();

  connect(): void {
    if (bridge) {
      if (this.state === 'open') return;
      for (const e of EVENT_NAMES) bridge.on(e, (payload) => this.dispatch(JSON.stringify({ event: e, payload })));
      this.setState('open');
      return;
    }
    if (this.socket) return;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/events`;
    const ws = new WebSocket(url);
    this.socket = ws;
    this.setState('connecting');
    ws.addEventListener('open', () => {
      const wasReconnect = this.attempts > 0;
      this.attempts = 0;
      this.setState('open');
      if (wasReconnect) for (const l of this.reconnectListeners) l();
    });
    ws.addEventListener('message', (m) => this.dispatch(m.data));
    ws.addEventListener('close', () => {
      this.socket = null;
      this.setState('closed');
      this.attempts++;
      setTimeout(() => this.connect(), Math.min(30_000, 500 * 2 ** Math.min(this.attempts, 6)));
    });
  }

  private dispatch(data: unknown): void {
    if (typeof data !== 'string') return;
    let msg: { event?: unknown; payload?: unknown };
    try {
      msg = JSON.parse(data) as typeof msg;
    } catch {
      return;
    }
    const event = EVENT_NAMES.find((e) => e === msg.event);
    if (!event || typeof msg.payload !== 'object' || msg.payload === null) return;
    for (const l of this.listeners[event]) (l as Listener<typeof event>)(msg.payload as LifeboatEvents[typeof event]);
  }

  private setState(s: ConnectionState): void {
    this.state = s;
    for (const l of this.stateListeners) l();
  }

  getState = (): ConnectionState => this.state;

  subscribeState = (l: () => void): (() => void) => {
    this.stateListeners.add(l);
    return () => this.stateListeners.delete(l);
  };

  on<E extends EventName>(event: E, l: Listener<E>): () => void {
    this.listeners[event].add(l);
    return () => this.listeners[event].delete(l);
  }

  onReconnect(l: () => void): () => void {
    this.reconnectListeners.add(l);
    return () => this.reconnectListeners.delete(l);
  }
}

export const events = new EventStream();

/** Calls `listener` for every `event`; the latest listener is used without resubscribing. */
export function useLifeboatEvent<E extends EventName>(event: E, listener: Listener<E>): void {
  const ref = useRef(listener);
  useEffect(() => {
    ref.current = listener;
  });
  useEffect(() => events.on(event, (p) => ref.current(p)), [event]);
}

/** Calls `refresh` when the event connection comes back after a drop (events were missed). */
export function useOnReconnect(refresh: () => void): void {
  const ref = useRef(refresh);
  useEffect(() => {
    ref.current = refresh;
  });
  useEffect(() => events.onReconnect(() => ref.current()), []);
}

export function useConnectionState(): ConnectionState {
  return useSyncExternalStore(events.subscribeState, events.getState);
}
