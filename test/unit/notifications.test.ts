/**
 * The pure notification decisions: the RPO watchdog (pinned clock: breach
 * once, again only after recovery), the webhook payload and email text,
 * HTTP status classes, bounded backoff, and the channel settings' validation
 * (each error names its field; secrets never echoed).
 */
import { describe, expect, it } from 'vitest';
import {
  classifyHttpStatus, emailMessage, retryDelay, rpoBreached, rpoBreachEvent, rpoWatch, runFinishedEvent, webhookPayload, WEBHOOK_PAYLOAD_VERSION, type RpoInput,
} from '../../shared/notifications.js';
import type { RunRecord } from '../../shared/jobs.js';
import { validateSettingsPatch } from '../../shared/settings.js';

const at = (iso: string) => new Date(iso);
const job = (id: number, over: Partial<RpoInput> = {}): RpoInput => ({ id, name: `job${id}`, rpoHours: 24, createdAt: '2026-03-01T00:00:00.000Z', lastSuccessAt: null, ...over });

describe('rpoBreached', () => {
  it.each([
    ['no watchdog', job(1, { rpoHours: null }), '2027-01-01T00:00:00Z', false],
    ['a new job within its first RPO', job(1), '2026-03-01T23:59:59Z', false],
    ['a job never successful past one RPO from creation', job(1), '2026-03-02T00:00:01Z', true],
    ['exactly at the threshold is still within', job(1, { lastSuccessAt: '2026-03-05T06:00:00.000Z' }), '2026-03-06T06:00:00Z', false],
    ['one second past the threshold', job(1, { lastSuccessAt: '2026-03-05T06:00:00.000Z' }), '2026-03-06T06:00:01Z', true],
    ['a recent success', job(1, { rpoHours: 1, lastSuccessAt: '2026-03-05T06:00:00.000Z' }), '2026-03-05T06:30:00Z', false],
  ] as const)('%s', (_name, j, now, expected) => expect(rpoBreached(at(now), j)).toBe(expected));
});

describe('rpoWatch: once per breach', () => {
  it('notifies when a job goes from within to breached, not again while it stays breached, and again after it recovered', () => {
    const a = job(1, { lastSuccessAt: '2026-03-05T00:00:00.000Z' });
    const b = job(2, { lastSuccessAt: '2026-03-05T12:00:00.000Z' });
    // 23 h after a's success: nobody breached.
    let state = rpoWatch(at('2026-03-05T23:00:00Z'), [a, b], []);
    expect(state).toEqual({ newlyBreached: [], breached: [] });
    // 25 h: a breached, once.
    state = rpoWatch(at('2026-03-06T01:00:00Z'), [a, b], state.breached);
    expect(state.newlyBreached.map((j) => j.id)).toEqual([1]);
    expect(state.breached).toEqual([1]);
    // Still breached an hour later (or after a restart that reads the stored set): silent.
    state = rpoWatch(at('2026-03-06T02:00:00Z'), [a, b], state.breached);
    expect(state).toEqual({ newlyBreached: [], breached: [1] });
    // b breaches too: only b is new.
    state = rpoWatch(at('2026-03-06T13:00:00Z'), [a, b], state.breached);
    expect(state.newlyBreached.map((j) => j.id)).toEqual([2]);
    expect(state.breached).toEqual([1, 2]);
    // a succeeds: it recovers and leaves the set.
    const a2 = { ...a, lastSuccessAt: '2026-03-06T14:00:00.000Z' };
    state = rpoWatch(at('2026-03-06T15:00:00Z'), [a2, b], state.breached);
    expect(state).toEqual({ newlyBreached: [], breached: [2] });
    // ...and notifies again when it breaches anew.
    state = rpoWatch(at('2026-03-07T14:00:01Z'), [a2, b], state.breached);
    expect(state.newlyBreached.map((j) => j.id)).toEqual([1]);
  });
  it('drops deleted jobs and jobs whose watchdog was switched off', () => {
    expect(rpoWatch(at('2026-04-01T00:00:00Z'), [job(1, { rpoHours: null })], [1, 7])).toEqual({ newlyBreached: [], breached: [] });
  });
  it('says what breached and since when', () => {
    const e = rpoBreachEvent(at('2026-03-06T01:00:00Z'), job(3, { name: 'accounts', lastSuccessAt: '2026-03-05T00:00:00.000Z' }));
    expect(e).toMatchObject({ kind: 'rpo-breached', severity: 'critical', job: { id: 3, name: 'accounts' }, rpo: { thresholdHours: 24, lastSuccessAt: '2026-03-05T00:00:00.000Z' } });
    expect(e.title).toBe('"accounts": no successful backup within 24 h');
    expect(e.text).toContain('2026-03-05T00:00:00.000Z');
  });
});

const failedRun: RunRecord = {
  id: 42, jobId: 3, kind: 'backup', trigger: 'schedule', scheduledFor: null, queuedAt: '2026-03-02T00:00:00.000Z', startedAt: '2026-03-02T00:00:01.000Z', endedAt: '2026-03-02T00:01:00.000Z',
  status: 'failed', phase: null, reason: null, snapshotId: null, filesNew: 0, filesChanged: 0, filesUnmodified: 0, bytesProcessed: 1234, bytesAdded: 567, errorCount: 0,
  error: 'target unreachable: ECONNREFUSED', acknowledged: false,
};

describe('webhook payload and email text', () => {
  const event = runFinishedEvent(failedRun, { id: 3, name: 'accounts' }, 'Backup of "accounts" failed', failedRun.error!, 'critical', '2026-03-02T00:01:00.000Z');
  it('payload version 1 carries kind, job, run, times, bytes, error and host', () => {
    expect(webhookPayload(event, 'nas-office')).toEqual({
      version: WEBHOOK_PAYLOAD_VERSION, kind: 'run-finished', at: '2026-03-02T00:01:00.000Z', host: 'nas-office', title: 'Backup of "accounts" failed', text: 'target unreachable: ECONNREFUSED',
      severity: 'critical', job: { id: 3, name: 'accounts' },
      run: { id: 42, kind: 'backup', status: 'failed', startedAt: '2026-03-02T00:00:01.000Z', endedAt: '2026-03-02T00:01:00.000Z', bytesProcessed: 1234, bytesAdded: 567, errorCount: 0, error: 'target unreachable: ECONNREFUSED', snapshotId: null },
      rpo: null,
    });
    expect(WEBHOOK_PAYLOAD_VERSION).toBe(1);
  });
  it('email: subject names host and what happened; the text the job, run and error', () => {
    const m = emailMessage(event, 'nas-office');
    expect(m.subject).toBe('[Lifeboat nas-office] Backup of "accounts" failed');
    expect(m.text).toContain('Job: accounts (#3)');
    expect(m.text).toContain('Run: #42 (backup), failed');
    expect(m.text).toContain('Error: target unreachable: ECONNREFUSED');
  });
});

describe('delivery rules', () => {
  it.each([
    [200, 'delivered'], [204, 'delivered'], [299, 'delivered'], [301, 'permanent'], [400, 'permanent'], [401, 'permanent'], [404, 'permanent'],
    [408, 'transient'], [429, 'transient'], [500, 'transient'], [503, 'transient'],
  ] as const)('HTTP %i is %s', (status, verdict) => expect(classifyHttpStatus(status)).toBe(verdict));
  it('backs off four times longer each retry, capped, and honours a longer Retry-After up to the cap', () => {
    const policy = { baseMs: 5000, maxMs: 80_000 };
    expect([1, 2, 3, 4].map((n) => retryDelay(n, policy))).toEqual([5000, 20_000, 80_000, 80_000]);
    expect(retryDelay(1, policy, 30_000)).toBe(30_000);
    expect(retryDelay(1, policy, 1000)).toBe(5000);
    expect(retryDelay(1, policy, 3_600_000)).toBe(80_000);
  });
});

describe('notification settings validation', () => {
  const webhook = { enabled: true, url: 'https://hooks.example.org/lifeboat', headers: { Authorization: 'Bearer x' } };
  const email = { enabled: true, host: 'smtp.example.org', port: 587, security: 'starttls', username: 'alerts', from: 'lifeboat@example.org', to: ['admin@example.org'] };
  it('accepts complete channels and write-only secrets', () => {
    expect(validateSettingsPatch({ notifications: { webhook: { ...webhook, signingSecret: { set: 's3cret' } }, email: { ...email, password: { clear: true } } } })).toEqual({
      notifications: { webhook: { ...webhook, signingSecret: { set: 's3cret' } }, email: { ...email, password: { clear: true } } },
    });
    // A disabled channel may be left empty.
    expect(validateSettingsPatch({ notifications: { webhook: { enabled: false, url: '', headers: {} } } })).toEqual({ notifications: { webhook: { enabled: false, url: '', headers: {} } } });
  });
  const bad: [unknown, string][] = [
    [{ webhook: { ...webhook, url: 'not a url' } }, 'notifications.webhook.url: is not a valid URL'],
    [{ webhook: { ...webhook, url: 'ftp://example.org/x' } }, 'notifications.webhook.url: must start with http:// or https://'],
    [{ webhook: { ...webhook, url: '' } }, 'notifications.webhook.url: must be given'],
    [{ webhook: { ...webhook, headers: { 'Bad Header': 'x' } } }, 'notifications.webhook.headers: "Bad Header" is not a valid header name'],
    [{ webhook: { ...webhook, headers: { 'X-Lifeboat-Signature': 'x' } } }, 'notifications.webhook.headers: X-Lifeboat-Signature is set by Lifeboat itself'],
    [{ webhook: { ...webhook, headers: { 'X-Token': 'a\r\nInjected: 1' } } }, 'notifications.webhook.headers.X-Token: must be one line'],
    [{ webhook: { ...webhook, signingSecret: { set: '' } } }, 'notifications.webhook.signingSecret.set:'],
    [{ webhook: { ...webhook, signingSecret: 'plain' } }, 'notifications.webhook.signingSecret:'],
    [{ email: { ...email, port: 0 } }, 'notifications.email.port: must be a whole number from 1 to 65535'],
    [{ email: { ...email, port: 70000 } }, 'notifications.email.port:'],
    [{ email: { ...email, security: 'auto' } }, 'notifications.email.security:'],
    [{ email: { ...email, host: 'smtp example.org' } }, 'notifications.email.host: is not a host name'],
    [{ email: { ...email, host: '' } }, 'notifications.email.host: must be given'],
    [{ email: { ...email, from: 'lifeboat' } }, 'notifications.email.from: "lifeboat" is not an email address'],
    [{ email: { ...email, to: ['admin@example.org', 'nobody'] } }, 'notifications.email.to[1]: "nobody" is not an email address'],
    [{ email: { ...email, to: [] } }, 'notifications.email.to: must have at least one address'],
    [{ email: { ...email, password: { set: 'x', clear: true } } }, 'notifications.email.password: give either set or clear'],
    [{ sms: {} }, 'notifications.sms: is not a known setting'],
  ];
  for (const [v, message] of bad) it(`refuses ${JSON.stringify(v).slice(0, 90)}`, () => expect(() => validateSettingsPatch({ notifications: v })).toThrow(message));
  it('never repeats a secret in its error', () => {
    const secret = 'hunter2-secret-value';
    let message = '';
    try {
      validateSettingsPatch({ notifications: { email: { ...email, password: { set: secret, clear: true } } } });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).not.toBe('');
    expect(message).not.toContain(secret);
  });
});
