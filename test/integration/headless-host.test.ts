/** The headless host: the API contract over loopback HTTP and WebSocket, with a real service. */
import { request } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeadlessHost, type HeadlessHost } from '../../main/host/headless.js';
import { LifeboatService } from '../../main/service/service.js';
import { openDatabase, type LifeboatDatabase } from '../../main/store/database.js';
import { ApiError, createApiClient, httpTransport } from '../../shared/api-client.js';
import { scratch } from '../helpers/tools.js';

let s: ReturnType<typeof scratch>;
let db: LifeboatDatabase;
let svc: LifeboatService;
let host: HeadlessHost;

beforeAll(async () => {
  s = scratch();
  mkdirSync(path.join(s.dir, 'src'));
  writeFileSync(path.join(s.dir, 'src', 'a.txt'), 'hello');
  db = openDatabase(path.join(s.dir, 'lifeboat.db'));
  svc = new LifeboatService({ db, workers: 1 });
  host = await startHeadlessHost(svc);
});
afterAll(async () => {
  await host?.close();
  await svc?.stop();
  db?.close();
  s?.dispose();
});

function raw(pathname: string, headers: Record<string, string>, body = '[]'): Promise<{ status: number; body: string }> {
  const u = new URL(host.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: pathname, method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: b }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('headless host', () => {
  it('answers 401, revealing nothing, without the token, with a foreign Host or a foreign Origin', async () => {
    const hostHeader = new URL(host.url).host;
    expect(await raw('/api/listJobs', { host: hostHeader })).toEqual({ status: 401, body: '' });
    expect(await raw('/api/listJobs', { host: hostHeader, authorization: 'Bearer wrong' })).toEqual({ status: 401, body: '' });
    expect((await raw('/api/listJobs', { host: 'evil.example:80', authorization: `Bearer ${host.token}` })).status).toBe(401);
    expect((await raw('/api/listJobs', { host: hostHeader, origin: 'http://evil.example', authorization: `Bearer ${host.token}` })).status).toBe(401);
    expect(await raw('/api/listJobs', { host: hostHeader, authorization: `Bearer ${host.token}` })).toEqual({ status: 200, body: '{"result":[]}' });
    expect((await raw('/api/dropDatabase', { host: hostHeader, authorization: `Bearer ${host.token}` })).status).toBe(404);
  });

  it('refuses to listen beyond loopback unless asked to', async () => {
    await expect(startHeadlessHost(svc, { host: '0.0.0.0' })).rejects.toThrow('host: refusing to listen on 0.0.0.0');
  });

  it('serves the API contract to a typed client, with field-named errors and live events', async () => {
    const api = createApiClient(httpTransport(host.url, host.token));
    const pw = path.join(s.dir, 'pw');
    writeFileSync(pw, 'host test password');
    const repo = await api.addRepository({ name: 'nas', location: path.join(s.dir, 'repo'), passwordRef: `file:${pw}`, create: true });
    const bad = await api.createJob({ name: 'docs', repositoryId: repo.id, sources: { paths: [path.join(s.dir, 'src')] }, uploadWorkers: 99 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ApiError);
    expect((bad as ApiError).field).toBe('uploadWorkers');
    expect((bad as ApiError).status).toBe(400);
    const job = await api.createJob({ name: 'docs', repositoryId: repo.id, sources: { paths: [path.join(s.dir, 'src')] } });

    const ws = new WebSocket(`${host.url.replace('http', 'ws')}/events`, { headers: { authorization: `Bearer ${host.token}` } });
    const events: { event: string; payload: { status?: string } }[] = [];
    ws.on('message', (m) => events.push(JSON.parse(m.toString()) as (typeof events)[number]));
    await new Promise((r) => ws.once('open', r));
    await api.runNow(job.id);
    await svc.idle();
    await new Promise((r) => setTimeout(r, 100));
    ws.close();
    expect(events.some((e) => e.event === 'runChanged' && e.payload.status === 'success')).toBe(true);
    const [run] = await api.listRuns({ jobId: job.id });
    expect(run!.status).toBe('success');

    const noToken = new WebSocket(`${host.url.replace('http', 'ws')}/events`);
    const refused = await new Promise<string>((resolve) => {
      noToken.on('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
      noToken.on('error', () => resolve('error'));
    });
    expect(refused).toBe('401');
  });

  it('moves the token from the opening URL into an HttpOnly cookie', async () => {
    const res = await fetch(host.openUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toMatch(/^lifeboat_token=.*; HttpOnly; SameSite=Strict/);
    expect(await res.text()).toContain('Lifeboat is running');
  });
});
