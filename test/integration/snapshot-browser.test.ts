/**
 * The snapshot browser's API over real backups in a real repository: a
 * folder's children with sizes, search by name, the difference between two
 * snapshots, restoring one file elsewhere (bytes compared, progress events),
 * testing a connection, and exporting/importing job configuration.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LifeboatService } from '../../main/service/service.js';
import { openDatabase, type LifeboatDatabase } from '../../main/store/database.js';
import { pseudoRandom } from '../fixtures/source-tree.js';
import { scratch } from '../helpers/tools.js';

let s: ReturnType<typeof scratch>;
let src: string;
let db: LifeboatDatabase;
let svc: LifeboatService;
let repoId: number;
let first: string;
let second: string;

beforeAll(async () => {
  s = scratch();
  src = path.join(s.dir, 'site');
  mkdirSync(path.join(src, 'www', 'img'), { recursive: true });
  writeFileSync(path.join(src, 'www', 'index.html'), '<h1>hello</h1>\n');
  writeFileSync(path.join(src, 'www', 'img', 'logo.png'), pseudoRandom('logo', 50_000));
  writeFileSync(path.join(src, 'db.sql'), pseudoRandom('db', 120_000));
  writeFileSync(path.join(src, 'old.log'), 'old\n');
  db = openDatabase(path.join(s.dir, 'lifeboat.db'));
  svc = new LifeboatService({ db, workers: 1 });
  repoId = (await svc.addRepository({ name: 'nas', location: path.join(s.dir, 'repo'), passwordRef: `file:${s.passwordFile}`, create: true })).id;
  const job = await svc.createJob({ name: 'site', repositoryId: repoId, sources: { paths: [src] } });
  const run = async () => {
    const r = await svc.runNow(job.id);
    await svc.idle();
    return (await svc.listRuns({ jobId: job.id })).find((x) => x.id === r.id)!.snapshotId!;
  };
  first = await run();
  writeFileSync(path.join(src, 'www', 'index.html'), '<h1>hello again</h1>\n');
  writeFileSync(path.join(src, 'www', 'about.html'), '<p>about</p>\n');
  rmSync(path.join(src, 'old.log'));
  second = await run();
}, 120_000);
afterAll(async () => {
  await svc?.stop();
  db?.close();
  s?.dispose();
});

describe('browsing a snapshot', () => {
  it('lists a folder with file sizes and folder totals, down to any folder', async () => {
    const top = await svc.listSnapshotTree(repoId, first, src);
    expect(top.entries.map((e) => [e.name, e.type, e.size])).toEqual([
      ['db.sql', 'file', 120_000],
      ['old.log', 'file', 4],
      ['www', 'dir', 15 + 50_000],
    ]);
    const img = await svc.listSnapshotTree(repoId, first, `${src}/www/img`);
    expect(img.entries).toEqual([expect.objectContaining({ path: `${src}/www/img/logo.png`, name: 'logo.png', type: 'file', size: 50_000 })]);
    expect(Date.parse(img.entries[0]!.mtime)).toBeGreaterThan(Date.parse('2020-01-01'));
    // The top of the snapshot holds the source path's first component.
    expect((await svc.listSnapshotTree(repoId, first, '/')).entries.map((e) => e.type)).toEqual(['dir']);
  });

  it('names the field of a bad path or snapshot', async () => {
    await expect(svc.listSnapshotTree(repoId, first, `${src}/db.sql`)).rejects.toThrow('path: ');
    await expect(svc.listSnapshotTree(repoId, first, 'www')).rejects.toThrow('path: must start with "/"');
    await expect(svc.listSnapshotTree(repoId, 'not-hex', '/')).rejects.toThrow('snapshotId: ');
    await expect(svc.listSnapshotTree(0, first, '/')).rejects.toThrow('repositoryId: ');
  });

  it('searches by name, with wildcards', async () => {
    expect((await svc.searchSnapshot(repoId, second, 'HTML')).entries.map((e) => e.name)).toEqual(['about.html', 'index.html']);
    expect((await svc.searchSnapshot(repoId, second, '*.sql')).entries.map((e) => e.path)).toEqual([`${src}/db.sql`]);
    expect(await svc.searchSnapshot(repoId, second, 'html', 1)).toMatchObject({ truncated: true, entries: [{ name: 'about.html' }] });
    await expect(svc.searchSnapshot(repoId, second, 'x', 0)).rejects.toThrow('limit: ');
  });

  it('compares two snapshots: added, removed, changed', async () => {
    const d = await svc.diffSnapshots(repoId, first, second);
    expect(d.added.map((e) => e.path)).toEqual([`${src}/www/about.html`]);
    expect(d.removed.map((e) => e.path)).toEqual([`${src}/old.log`]);
    expect(d.changed.map((c) => [c.path, c.before.size, c.after.size])).toEqual([[`${src}/www/index.html`, 15, 21]]);
    expect(d).toMatchObject({ bytesAdded: 13 + 21, bytesRemoved: 4 });
  });

  it('restores one file to another folder with progress, byte for byte', async () => {
    const progress: number[] = [];
    const off = svc.on('restoreProgress', (p) => progress.push(p.progress.bytesDone));
    const target = path.join(s.dir, 'restored');
    const res = await svc.restore({ repositoryId: repoId, snapshotId: first, target, include: [`${src}/www/index.html`] });
    off();
    expect(res).toMatchObject({ files: 1, errors: [] });
    expect(readFileSync(path.join(target, src, 'www', 'index.html'), 'utf8')).toBe('<h1>hello</h1>\n');
    expect(progress.length).toBeGreaterThan(0);
    await expect(svc.restore({ repositoryId: repoId, snapshotId: first, target, include: [42 as unknown as string] })).rejects.toThrow('include[0]: ');
  });
});

describe('testing a connection', () => {
  it('tells an existing repository, an empty place, a wrong password and an unreachable one apart', async () => {
    const repo = path.join(s.dir, 'repo');
    expect(await svc.testConnection({ location: repo })).toMatchObject({ ok: true, initialized: true });
    expect(await svc.testConnection({ location: repo, password: readFileSync(s.passwordFile, 'utf8').trim() })).toMatchObject({ ok: true, initialized: true, message: expect.stringContaining('opened') });
    expect(await svc.testConnection({ location: repo, password: 'wrong' })).toMatchObject({ ok: false, initialized: false });
    expect(await svc.testConnection({ location: path.join(s.dir, 'empty') })).toMatchObject({ ok: true, initialized: false });
    // A folder inside a file cannot be reached; an SFTP location without its options is refused by field.
    expect(await svc.testConnection({ location: path.join(s.passwordFile, 'repo') })).toMatchObject({ ok: false, initialized: false });
    await expect(svc.testConnection({ location: 'sftp:nobody@127.0.0.1:1/x' })).rejects.toThrow('location: ');
    await expect(svc.testConnection({ location: '' })).rejects.toThrow('location: ');
  }, 60_000);
});

describe('export and import of job configuration', () => {
  it('exports without ids or secrets and imports into another service, all or nothing', async () => {
    const exported = await svc.exportJobs();
    expect(exported).toMatchObject({ format: 'lifeboat-jobs', version: 1, jobs: [{ name: 'site', repository: 'nas', sources: { paths: [src] } }] });
    expect(JSON.stringify(exported)).not.toMatch(/passwordRef|"id"|repositoryId/);

    const db2 = openDatabase(path.join(s.dir, 'other.db'));
    const svc2 = new LifeboatService({ db: db2, workers: 1 });
    try {
      await expect(svc2.importJobs(exported)).rejects.toThrow('jobs[0].repository: no repository named "nas"');
      await svc2.addRepository({ name: 'nas', location: path.join(s.dir, 'repo'), passwordRef: `file:${s.passwordFile}` });
      const bad = { ...exported, jobs: [...exported.jobs, { ...exported.jobs[0]!, name: 'second', schedule: 'Mon 25:00' }] };
      await expect(svc2.importJobs(bad)).rejects.toThrow('jobs[1].schedule: ');
      expect(await svc2.listJobs()).toEqual([]);
      await expect(svc2.importJobs({ format: 'other' })).rejects.toThrow('format: ');
      const imported = await svc2.importJobs(exported);
      expect(imported.map((j) => j.name)).toEqual(['site']);
      await expect(svc2.importJobs(exported)).rejects.toThrow('jobs[0].name: a job named "site" already exists');
    } finally {
      await svc2.stop();
      db2.close();
    }
  });
});
