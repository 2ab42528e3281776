/** The scheduler as an admin runs it on a box without a display: `lifeboat repos/jobs` + `lifeboat serve`. */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lifeboat, ok, PROJECT_ROOT, scratch } from '../helpers/tools.js';

let s: ReturnType<typeof scratch>;
let env: Record<string, string>;

beforeAll(() => {
  s = scratch();
  mkdirSync(path.join(s.dir, 'src'));
  writeFileSync(path.join(s.dir, 'src', 'ledger.csv'), 'date,amount\n2026-01-01,100\n');
  env = { LIFEBOAT_DATA_DIR: path.join(s.dir, 'data') };
});
afterAll(() => s?.dispose());

describe('lifeboat serve', () => {
  it('runs a job on its schedule and stops cleanly on SIGTERM', async () => {
    ok(lifeboat(['repos', 'add', 'nas', path.join(s.dir, 'repo'), '--password-ref', `file:${s.passwordFile}`, '--init'], { env }), 'repos add');
    const bad = lifeboat(['jobs', 'add', 'ledger', '--repository', 'nas', '--path', path.join(s.dir, 'src'), '--schedule', '*:*:0/5', '--set', 'overlap=sometimes'], { env });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('overlap: must be one of skip, queue, parallel');
    ok(lifeboat(['jobs', 'add', 'ledger', '--repository', 'nas', '--path', path.join(s.dir, 'src'), '--schedule', '*:*:0/5'], { env }), 'jobs add');
    const listed = JSON.parse(ok(lifeboat(['jobs', 'list', '--json'], { env }), 'jobs list').stdout) as { job: { name: string }; nextRun: string }[];
    expect(listed.map((j) => j.job.name)).toEqual(['ledger']);
    expect(Date.parse(listed[0]!.nextRun) - Date.now()).toBeLessThanOrEqual(5000);

    const tsx = createRequire(import.meta.url).resolve('tsx');
    const daemon = spawn(process.execPath, ['--import', tsx, path.join(PROJECT_ROOT, 'main/cli/lifeboat.ts'), 'serve'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    daemon.stdout.on('data', (b: Buffer) => (out += b.toString()));
    daemon.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => daemon.on('exit', (code) => r(code)));
    const deadline = Date.now() + 40_000;
    while (!/backup schedule .* success/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    daemon.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toMatch(/backup schedule .* success snapshot [0-9a-f]{8}/);
    expect(out).toContain('lifeboat serve: stopped');

    const runs = JSON.parse(ok(lifeboat(['jobs', 'runs', 'ledger', '--json'], { env }), 'jobs runs').stdout) as { trigger: string; status: string; scheduledFor: string }[];
    const scheduled = runs.find((r) => r.trigger === 'schedule' && r.status === 'success')!;
    expect(new Date(scheduled.scheduledFor).getUTCSeconds() % 5).toBe(0);
    const manual = ok(lifeboat(['jobs', 'run', 'ledger', '--json'], { env }), 'jobs run');
    expect(JSON.parse(manual.stdout)).toMatchObject({ trigger: 'manual', status: 'success' });
  });
});
