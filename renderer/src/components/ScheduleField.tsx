import { useEffect, useState } from 'react';
import { api, errorText } from '../api.js';
import { relative, slot } from '../format.js';

type Preview =
  | { kind: 'empty' }
  | { kind: 'loading' }
  | { kind: 'ok'; normalized: string; next: string[] }
  | { kind: 'error'; message: string };

const DEBOUNCE_MS = 250;

/**
 * The schedule input: as the admin types, the service parses the calendar event (debounced) and
 * the field shows its normalized form and the next 5 runs, or the error naming the token and column.
 */
export function ScheduleField({ id, value, onChange, saveError }: { id: string; value: string; onChange: (v: string) => void; saveError: string | undefined }) {
  const [preview, setPreview] = useState<Preview>({ kind: 'empty' });
  useEffect(() => {
    if (value.trim() === '') {
      setPreview({ kind: 'empty' });
      return;
    }
    let current = true;
    setPreview((p) => (p.kind === 'ok' || p.kind === 'error' ? p : { kind: 'loading' }));
    const t = setTimeout(() => {
      api.previewSchedule(value, 5).then(
        (r) => current && setPreview({ kind: 'ok', normalized: r.normalized, next: r.next }),
        (e: unknown) => current && setPreview({ kind: 'error', message: errorText(e, true) }),
      );
    }, DEBOUNCE_MS);
    return () => {
      current = false;
      clearTimeout(t);
    };
  }, [value]);

  const error = saveError ?? (preview.kind === 'error' ? preview.message : undefined);
  const helpId = `${id}-help`;
  const previewId = `${id}-preview`;
  return (
    <div className={`field${error ? ' has-error' : ''}`}>
      <label htmlFor={id}>Schedule</label>
      <input
        id={id}
        name="schedule"
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={`${helpId} ${previewId}`}
        autoComplete="off"
        spellCheck={false}
        className="mono"
        placeholder="e.g. Mon..Fri 18:00, daily, *:0/15"
      />
      <p id={helpId} className="help">
        A systemd calendar event (<code>02:00</code>, <code>Mon..Fri 18:00</code>, <code>*-*-01 03:00</code>, <code>hourly</code>). Empty: only when started by hand.
      </p>
      <div id={previewId} className="schedule-preview" aria-live="polite">
        {error ? (
          <div className="field-error" role="alert">
            <Highlighted expression={value} message={error} />
            {error}
          </div>
        ) : preview.kind === 'ok' ? (
          <>
            <p>
              Normalized: <code className="normalized">{preview.normalized}</code>
            </p>
            <p className="small">Next runs:</p>
            <ol className="next-runs">
              {preview.next.map((t) => (
                <li key={t}>
                  <time dateTime={t}>{slot(t)}</time> <span className="muted">({relative(t)})</span>
                </li>
              ))}
            </ol>
          </>
        ) : preview.kind === 'loading' ? (
          <p className="muted">Checking…</p>
        ) : (
          <p className="muted">No schedule: the job runs only when started by hand.</p>
        )}
      </div>
    </div>
  );
}

/** The expression with the token the error names marked, when the error says which column. */
function Highlighted({ expression, message }: { expression: string; message: string }) {
  const column = /at column (\d+)/.exec(message);
  if (!column) return null;
  const start = Number(column[1]) - 1;
  if (start < 0 || start > expression.length) return null;
  const quoted = /"([^"]*)"/.exec(message)?.[1];
  const len = quoted && expression.startsWith(quoted, start) && quoted.length > 0 ? quoted.length : Math.max(1, /^\S*/.exec(expression.slice(start))?.[0].length ?? 1);
  return (
    <code className="expression" aria-hidden="true">
      {expression.slice(0, start)}
      <mark>{expression.slice(start, start + len) || ' '}</mark>
      {expression.slice(start + len)}
    </code>
  );
}
