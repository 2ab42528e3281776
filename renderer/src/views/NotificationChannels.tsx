import { useState, type FormEvent, type ReactNode } from 'react';
import type { DeliveryResult, NotificationChannelName, NotificationsPatch, NotificationsView, SmtpSecurity } from '../../../shared/settings.js';
import { ApiError, api, errorText } from '../api.js';
import { dateTime } from '../format.js';
import { useNotice } from '../components/Notice.js';

interface Form {
  webhookEnabled: boolean;
  url: string;
  headers: string;
  signingSecret: string;
  clearSigning: boolean;
  emailEnabled: boolean;
  host: string;
  port: string;
  security: SmtpSecurity;
  username: string;
  password: string;
  clearPassword: boolean;
  from: string;
  to: string;
}

const toForm = (n: NotificationsView): Form => ({
  webhookEnabled: n.webhook.enabled,
  url: n.webhook.url,
  headers: Object.entries(n.webhook.headers).map(([k, v]) => `${k}: ${v}`).join('\n'),
  signingSecret: '',
  clearSigning: false,
  emailEnabled: n.email.enabled,
  host: n.email.host,
  port: String(n.email.port),
  security: n.email.security,
  username: n.email.username,
  password: '',
  clearPassword: false,
  from: n.email.from,
  to: n.email.to.join(', '),
});

/** The server's field name for an input: `notifications.email.to[1]` is shown at the To field. */
const fieldOf = (f: string) => f.replace(/\[\d+\]$/, '').replace(/^(notifications\.webhook\.headers)\..*$/, '$1');

/**
 * The webhook and email channels: their settings, secrets typed but never
 * shown (only whether one is stored), "Send test" (saves, then sends one
 * message now and shows the outcome) and each channel's last delivery.
 */
export function NotificationChannels({ initial, onSaved }: { initial: NotificationsView; onSaved: (n: NotificationsView) => void }) {
  const { notify } = useNotice();
  const [view, setView] = useState(initial);
  const [form, setForm] = useState(() => toForm(initial));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [tests, setTests] = useState<Partial<Record<NotificationChannelName, string>>>({});
  const set = <K extends keyof Form>(k: K, v: Form[K]) => setForm((f) => ({ ...f, [k]: v }));

  /** The patch for the form, or null (with the error at its field) when it cannot be read. */
  const patch = (): NotificationsPatch | null => {
    const headers: Record<string, string> = {};
    for (const line of form.headers.split('\n').map((l) => l.trim()).filter(Boolean)) {
      const colon = line.indexOf(':');
      if (colon <= 0) {
        setErrors({ 'notifications.webhook.headers': `"${line}": write each header as Name: value` });
        return null;
      }
      headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
    const port = form.port.trim() === '' ? NaN : Number(form.port);
    return {
      webhook: {
        enabled: form.webhookEnabled, url: form.url.trim(), headers,
        ...(form.signingSecret ? { signingSecret: { set: form.signingSecret } } : form.clearSigning ? { signingSecret: { clear: true } } : {}),
      },
      email: {
        enabled: form.emailEnabled, host: form.host.trim(), port: Number.isFinite(port) ? port : -1, security: form.security, username: form.username.trim(), from: form.from.trim(),
        to: form.to.split(/[,;\s]+/).map((a) => a.trim()).filter(Boolean),
        ...(form.password ? { password: { set: form.password } } : form.clearPassword ? { password: { clear: true } } : {}),
      },
    };
  };

  const save = async (): Promise<boolean> => {
    setErrors({});
    const p = patch();
    if (!p) return false;
    try {
      const saved = (await api.updateSettings({ notifications: p })).notifications;
      setView(saved);
      setForm((f) => ({ ...f, signingSecret: '', clearSigning: false, password: '', clearPassword: false }));
      onSaved(saved);
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.field) setErrors({ [fieldOf(err.field)]: errorText(err, true) });
      else notify(errorText(err), 'error');
      return false;
    }
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    if (await save()) notify('Notification channels saved');
    setBusy(false);
  };

  const sendTest = async (channel: NotificationChannelName) => {
    setBusy(true);
    setTests((t) => ({ ...t, [channel]: 'Saving and sending…' }));
    try {
      if (!(await save())) {
        setTests((t) => ({ ...t, [channel]: 'Not sent: correct the settings first' }));
        return;
      }
      const r = await api.testNotification(channel);
      setTests((t) => ({ ...t, [channel]: r.delivered ? `Delivered at ${dateTime(r.at)}` : `Not delivered: ${r.error}` }));
      const fresh = (await api.getSettings()).notifications;
      setView(fresh);
    } catch (err) {
      if (err instanceof ApiError && err.field) setErrors({ [fieldOf(err.field)]: errorText(err, true) });
      setTests((t) => ({ ...t, [channel]: `Not sent: ${errorText(err)}` }));
    } finally {
      setBusy(false);
    }
  };

  const fieldProps = (f: string, id: string) => ({ id, 'aria-invalid': Boolean(errors[f]), 'aria-describedby': errors[f] ? `${f}-error` : undefined });
  const fieldError = (f: string) => errors[f] && <span className="error field-error" id={`${f}-error`}>{errors[f]}</span>;
  const row = (label: string, id: string, f: string, input: ReactNode, help?: string) => (
    <>
      <label htmlFor={id}>{label}</label>
      <div>
        {input}
        {help && <span className="small muted"> {help}</span>}
        {fieldError(f)}
      </div>
    </>
  );
  const W = 'notifications.webhook';
  const E = 'notifications.email';
  return (
    <form className="panel form-grid" onSubmit={submit} aria-labelledby="settings-channels" noValidate>
      <h2 id="settings-channels">Notification channels</h2>
      <p className="small muted">Each job's notification mode decides which runs are reported (errors only, or always). A job that has had no successful backup within its RPO is reported once, and overdue restore tests once a day.</p>

      <h3 id="channel-webhook">Webhook</h3>
      <span id="webhook-on">Webhook</span>
      <div role="group" aria-labelledby="webhook-on">
        <label>
          <input type="checkbox" checked={form.webhookEnabled} onChange={(e) => set('webhookEnabled', e.target.checked)} /> Send notifications to a webhook (JSON POST)
        </label>
      </div>
      {row('Webhook URL', 'webhook-url', `${W}.url`, <input {...fieldProps(`${W}.url`, 'webhook-url')} className="wide" type="url" value={form.url} placeholder="https://hooks.example.org/lifeboat" onChange={(e) => set('url', e.target.value)} />)}
      {row('Extra headers', 'webhook-headers', `${W}.headers`, <textarea {...fieldProps(`${W}.headers`, 'webhook-headers')} className="wide" rows={2} value={form.headers} placeholder="Authorization: Bearer …" onChange={(e) => set('headers', e.target.value)} />, 'one per line, Name: value')}
      {row(
        'Signing secret',
        'webhook-secret',
        `${W}.signingSecret`,
        <>
          <input {...fieldProps(`${W}.signingSecret`, 'webhook-secret')} type="password" autoComplete="off" value={form.signingSecret} placeholder={view.webhook.signingSecretStored ? 'stored; type to replace' : 'none'} onChange={(e) => set('signingSecret', e.target.value)} />
          {view.webhook.signingSecretStored && (
            <label className="small">
              <input type="checkbox" checked={form.clearSigning} onChange={(e) => set('clearSigning', e.target.checked)} /> Remove the stored signing secret
            </label>
          )}
        </>,
        'HMAC-SHA256 of the body in X-Lifeboat-Signature; kept in the secret store',
      )}
      <span>Webhook status</span>
      <div>
        <button type="button" onClick={() => void sendTest('webhook')} disabled={busy}>Send test webhook</button>{' '}
        <span role="status" data-testid="webhook-test">{tests.webhook ?? ''}</span>
        <LastDelivery result={view.webhook.lastDelivery} testId="webhook-last" />
      </div>

      <h3 id="channel-email">Email</h3>
      <span id="email-on">Email</span>
      <div role="group" aria-labelledby="email-on">
        <label>
          <input type="checkbox" checked={form.emailEnabled} onChange={(e) => set('emailEnabled', e.target.checked)} /> Send notifications by email (SMTP)
        </label>
      </div>
      {row('SMTP server', 'smtp-host', `${E}.host`, <input {...fieldProps(`${E}.host`, 'smtp-host')} value={form.host} placeholder="smtp.example.org" onChange={(e) => set('host', e.target.value)} />)}
      {row('SMTP port', 'smtp-port', `${E}.port`, <input {...fieldProps(`${E}.port`, 'smtp-port')} type="number" min={1} max={65535} value={form.port} onChange={(e) => set('port', e.target.value)} />, 'usually 587 (STARTTLS) or 465 (TLS)')}
      {row(
        'Connection security',
        'smtp-security',
        `${E}.security`,
        <select {...fieldProps(`${E}.security`, 'smtp-security')} value={form.security} onChange={(e) => set('security', e.target.value as SmtpSecurity)}>
          <option value="starttls">STARTTLS (required)</option>
          <option value="tls">TLS from the start</option>
          <option value="plain">None (local relay only)</option>
        </select>,
      )}
      {row('SMTP user name', 'smtp-user', `${E}.username`, <input {...fieldProps(`${E}.username`, 'smtp-user')} autoComplete="off" value={form.username} placeholder="none: no login" onChange={(e) => set('username', e.target.value)} />)}
      {row(
        'SMTP password',
        'smtp-password',
        `${E}.password`,
        <>
          <input {...fieldProps(`${E}.password`, 'smtp-password')} type="password" autoComplete="new-password" value={form.password} placeholder={view.email.passwordStored ? 'stored; type to replace' : 'none'} onChange={(e) => set('password', e.target.value)} />
          {view.email.passwordStored && (
            <label className="small">
              <input type="checkbox" checked={form.clearPassword} onChange={(e) => set('clearPassword', e.target.checked)} /> Remove the stored password
            </label>
          )}
        </>,
        'kept in the secret store, never shown',
      )}
      {row('From', 'smtp-from', `${E}.from`, <input {...fieldProps(`${E}.from`, 'smtp-from')} type="email" value={form.from} placeholder="lifeboat@example.org" onChange={(e) => set('from', e.target.value)} />)}
      {row('To', 'smtp-to', `${E}.to`, <input {...fieldProps(`${E}.to`, 'smtp-to')} className="wide" value={form.to} placeholder="admin@example.org, team@example.org" onChange={(e) => set('to', e.target.value)} />, 'one or more, separated by commas')}
      <span>Email status</span>
      <div>
        <button type="button" onClick={() => void sendTest('email')} disabled={busy}>Send test email</button>{' '}
        <span role="status" data-testid="email-test">{tests.email ?? ''}</span>
        <LastDelivery result={view.email.lastDelivery} testId="email-last" />
      </div>
      <div />
      <div>
        <button type="submit" className="primary" disabled={busy}>
          Save notification channels
        </button>
      </div>
    </form>
  );
}

function LastDelivery({ result, testId }: { result: DeliveryResult | null; testId: string }) {
  if (!result) return <p className="small muted" data-testid={testId}>Nothing sent yet.</p>;
  const what = result.kind === 'test' ? 'test message' : result.kind.replace(/-/g, ' ');
  return (
    <p className={`small ${result.delivered ? 'muted' : 'error'}`} data-testid={testId}>
      Last delivery ({what}, {dateTime(result.at)}): {result.delivered ? `delivered${result.attempts > 1 ? ` after ${result.attempts} attempts` : ''}` : `failed: ${result.error}`}
    </p>
  );
}
