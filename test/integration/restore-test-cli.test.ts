/**
 * `lifeboat restore-test` as an admin runs it: against a repository made by
 * Debian's restic (no job), and for a job through the service; exit codes,
 * --json evidence, failures naming the file, evidence kept in the data folder.
 */
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestoreTestRecord } from '../../shared/restore-test.js';
import { openDatabase } from '../../main/store/database.js';
import { makeSourceTree } from '../fixtures/source-tree.js';
import { lifeboat, ok, requireTool, restic, scratch } from '../helpers/tools.js';
import { flipByte, packFilesLargestFirst } from '../helpers/repo-damage.js';

let s: ReturnType<typeof scratch>;
let src: string;
let resticRepo: string;
let dataDir: string;

beforeAll(() => {
  requireTool('restic');
  s = scratch();
  src = path.join(s.dir, 'src');
  makeSourceTree(src);
  resticRepo = path.join(s.dir, 'restic-repo');
  dataDir = path.join(s.dir, 'data');
  mkdirSync(dataDir);
  ok(restic(['init', '-r', resticRepo], s.passwordFile), 'restic init');
  ok(restic(['backup', '-r', resticRepo, src], s.passwordFile), 'restic backup');
}, 60_000);
afterAll(() => s?.dispose());

const bare = (repo: string, args: string[]) => lifeboat(['--data-dir', dataDir, 'restore-test', '-r', repo, '--password-file', s.passwordFile, '--workers', '2', ...args]);

describe('lifeboat restore-test', () => {
  it('passes on a repository made by restic, exit 0, and --json prints the stored evidence record', () => {
    const r = ok(bare(resticRepo, ['--full', '--json']), 'restore-test --full');
    const t = JSON.parse(r.stdout) as RestoreTestRecord;
    expect(t).toMatchObject({ passed: true, trigger: 'cli', jobId: null, repositoryLocation: resticRepo, scope: { kind: 'full' }, mismatches: [], notRestored: [] });
    expect(t.filesVerified).toBe(12);
    expect(t.filesComparedWithSource).toBe(12);
    const db = openDatabase(path.join(dataDir, 'lifeboat.db'));
    try {
      expect(db.restoreTests.get(t.id)).toEqual(t);
    } finally {
      db.close();
    }
  }, 60_000);

  it('draws the same sample again from --seed, and says what it did in plain text', () => {
    const a = JSON.parse(ok(bare(resticRepo, ['--sample', '3', '--seed', '5', '--json']), 'sample a').stdout) as RestoreTestRecord;
    const b = JSON.parse(ok(bare(resticRepo, ['--sample', '3', '--seed', '5', '--json']), 'sample b').stdout) as RestoreTestRecord;
    expect(a.sample).toHaveLength(3);
    expect(b.sample).toEqual(a.sample);
    expect(b.id).toBeGreaterThan(a.id);
    const text = ok(bare(resticRepo, ['--sample', '3', '--seed', '5']), 'sample text');
    expect(text.stdout).toMatch(/^restore test #\d+ PASSED: snapshot [0-9a-f]{8} of .*, sample of 3 files \(seed 5\)/);
    expect(text.stdout).toContain('3/3 files verified');
  }, 60_000);

  it('refuses bad options naming them', () => {
    const two = bare(resticRepo, ['--sample', '3', '--full']);
    expect(two.status).toBe(1);
    expect(two.stderr).toContain('scope: give one of');
    const pct = bare(resticRepo, ['--percent', '250']);
    expect(pct.stderr).toContain('percent.percent');
    const missing = bare(resticRepo, ['--path', path.join(src, 'nope')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/scope\.paths\[0\]: .*nope/);
    const nothing = lifeboat(['--data-dir', dataDir, 'restore-test']);
    expect(nothing.status).toBe(1);
    expect(nothing.stderr).toContain('job:');
  }, 60_000);

  it('fails with exit 1 naming the file when a pack is corrupted', () => {
    const damaged = path.join(s.dir, 'damaged');
    cpSync(resticRepo, damaged, { recursive: true });
    flipByte(packFilesLargestFirst(damaged)[0]!, 1000, 0x10);
    const r = bare(damaged, ['--full']);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/restore test #\d+ FAILED/);
    expect(r.stdout).toMatch(new RegExp(`not restored: ${src.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\S+: blob [0-9a-f]{12}`));
  }, 60_000);

  it('tests a job through the service: a run of kind restore-test, evidence with the job, due state in jobs list', () => {
    const env = { LIFEBOAT_DATA_DIR: path.join(s.dir, 'job-data') };
    const repo = path.join(s.dir, 'job-repo');
    ok(lifeboat(['repos', 'add', 'nas', repo, '--password-ref', `file:${s.passwordFile}`, '--init'], { env }), 'repos add');
    ok(lifeboat(['jobs', 'add', 'site', '--repository', 'nas', '--path', src, '--set', 'restoreTest={"targetRtoMinutes":60}'], { env }), 'jobs add');
    expect(ok(lifeboat(['jobs', 'list'], { env }), 'jobs list').stdout).toContain('restore test: never tested');
    ok(lifeboat(['jobs', 'run', 'site'], { env }), 'jobs run');
    const r = ok(lifeboat(['restore-test', 'site', '--sample', '4', '--json', '--workers', '2'], { env }), 'restore-test site');
    const t = JSON.parse(r.stdout) as RestoreTestRecord;
    expect(t).toMatchObject({ passed: true, jobName: 'site', trigger: 'manual', filesVerified: 4, targetRtoMinutes: 60, rtoMet: true });
    expect(t.runId).not.toBeNull();
    const runs = JSON.parse(ok(lifeboat(['jobs', 'runs', 'site', '--json'], { env }), 'jobs runs').stdout) as { id: number; kind: string; status: string }[];
    expect(runs[0]).toMatchObject({ id: t.runId, kind: 'restore-test', status: 'success' });
    expect(ok(lifeboat(['jobs', 'list'], { env }), 'jobs list').stdout).toMatch(/restore test: next test due on \d{4}-\d{2}-\d{2}/);

    // History and the evidence export from the command line.
    const history = ok(lifeboat(['restore-tests', 'site'], { env }), 'restore-tests').stdout;
    expect(history).toMatch(new RegExp(`^#${t.id} \\S+ PASSED site snapshot [0-9a-f]{8} sample of 4 files: 4/4 verified\\n$`));
    const out = path.join(s.dir, 'evidence.html');
    expect(ok(lifeboat(['restore-tests', '--export', 'html', '--out', out], { env }), 'export html').stdout).toBe(`HTML report written to ${out}\n`);
    const html = readFileSync(out, 'utf8');
    expect(html).toMatch(/<th scope="row">site<\/th>.*<td class="passed">passed \(1\/1\)<\/td><\/tr>/);
    const csv = ok(lifeboat(['restore-tests', 'site', '--export', 'csv'], { env }), 'export csv').stdout;
    expect(csv.split('\n').filter((l) => l.startsWith('quarter,site,')).at(-1)).toMatch(/,yes,yes,1,1$/);
    const bad = lifeboat(['restore-tests', '--export', 'pdf'], { env });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('format:');
  }, 120_000);
});
