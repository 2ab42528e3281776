import { useState } from 'react';
import type { AppStatus } from '../../../shared/api.js';
import { api, errorText } from '../api.js';
import { useLifeboatEvent, useOnReconnect } from '../events.js';
import { slot } from '../format.js';
import { href } from '../router.js';
import { useNotice } from './Notice.js';
import { useLoad } from '../useLoad.js';

const LEVEL_TEXT = { green: 'All good', amber: 'Needs attention', red: 'A backup failed' } as const;

/** The app's overall state (the tray's colour and reasons) with the schedule pause and its controls. */
export function AppStatusBanner() {
  const { notify } = useNotice();
  const status = useLoad(() => api.getAppStatus(), []);
  const [busy, setBusy] = useState(false);
  useOnReconnect(status.reload);
  useLifeboatEvent('appStatusChanged', (s) => status.set(() => s));
  const s = status.data;
  if (!s) return null;
  const act = async (fn: () => Promise<AppStatus>) => {
    setBusy(true);
    try {
      const next = await fn();
      status.set(() => next);
    } catch (e) {
      notify(errorText(e), 'error');
      status.reload();
    } finally {
      setBusy(false);
    }
  };
  const failure = s.unacknowledgedFailures[0];
  return (
    <div className={`app-status app-status-${s.tray.level}`} role="region" aria-label="Overall state" data-level={s.tray.level}>
      <div className="pause-banner">
        <strong>{LEVEL_TEXT[s.tray.level]}</strong>
        <span>{s.tray.summary}</span>
        {failure && <a href={href({ view: 'activity', runId: failure.id })}>Look at run #{failure.id}</a>}
        <span className="spacer" />
        {s.pausedUntil ? (
          <>
            <span>Schedules paused until {slot(s.pausedUntil)}</span>
            <button type="button" disabled={busy} onClick={() => act(() => api.resumeSchedules())}>
              Resume schedules
            </button>
          </>
        ) : (
          <>
            <button type="button" disabled={busy} onClick={() => act(() => api.pauseSchedules('hour'))}>
              Pause schedules 1 h
            </button>
            <button type="button" disabled={busy} onClick={() => act(() => api.pauseSchedules('tomorrow'))}>
              Pause until tomorrow
            </button>
          </>
        )}
      </div>
      {s.tray.reasons.length > 0 && (
        <ul className="small">
          {s.tray.reasons.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
