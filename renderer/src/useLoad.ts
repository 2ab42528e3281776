import { useCallback, useEffect, useRef, useState } from 'react';
import { errorText } from './api.js';

export interface Loaded<T> {
  data: T | undefined;
  error: string | null;
  reload: () => void;
  /** Replaces the data locally (live updates between loads). */
  set: (update: (old: T | undefined) => T | undefined) => void;
}

/** Loads `fetcher()` on mount and on `reload()`; a slower earlier answer never overwrites a newer one. */
export function useLoad<T>(fetcher: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const seq = useRef(0);
  const load = useCallback(fetcher, deps);
  const reload = useCallback(() => {
    const mine = ++seq.current;
    load().then(
      (d) => {
        if (mine !== seq.current) return;
        setData(d);
        setError(null);
      },
      (e: unknown) => {
        if (mine === seq.current) setError(errorText(e));
      },
    );
  }, [load]);
  useEffect(() => reload(), [reload]);
  return { data, error, reload, set: setData };
}

/** The current time, re-read every `ms` so relative times ("in 5 minutes") stay true. */
export function useNow(ms = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/** Runs `fn` at most once per `ms` (trailing), for bursts of events that each ask for a reload. */
export function useThrottled(fn: () => void, ms: number): () => void {
  const ref = useRef(fn);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => {
    ref.current = fn;
  });
  useEffect(() => () => {
    if (timer.current) clearTimeout(timer.current);
  }, []);
  return useCallback(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      ref.current();
    }, ms);
  }, [ms]);
}
