/** The CLI and the service against a real sshd: init, backup, snapshots and a scheduled job over SFTP. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireSshd, startSshd, type Sshd } from '../helpers/sshd.js';
import { lifeboat, ok, scratch } from '../helpers/tools.js';

let s: ReturnType<typeof scratch>;
let sshd: Sshd;

beforeAll(async () => {
  requireSshd();
  s = scratch();
  sshd = await startSshd();
  mkdirSync(path.join(s.dir, 'src'));
  writeFileSync(path.join(s.dir, 'src', 'ledger.csv'), 'date,amount\n2026-11-23,42\n');
});
afterAll(async () => {
  await sshd?.dispose();
  s?.dispose();
});

describe('sftp from the command line', () => {
  it('inits, backs up and lists over SFTP, pinning the host key on first use', () => {
    const url = `sftp://${sshd.user}@127.0.0.1:${sshd.port}/${path.join(s.dir, 'remote-repo')}`;
    const env = { LIFEBOAT_REPOSITORY: url, LIFEBOAT_PASSWORD_FILE: s.passwordFile, LIFEBOAT_DATA_DIR: path.join(s.dir, 'data') };
    const init = ok(lifeboat(['init', '--sftp-key', sshd.userKeyFile], { env }), 'init over sftp');
    expect(init.stderr).toContain(`pinned the host key of 127.0.0.1:${sshd.port}: ${sshd.hostKeyType} ${sshd.hostFingerprint}`);
    const pins = JSON.parse(readFileSync(path.join(s.dir, 'data', 'known_hosts.json'), 'utf8')) as { hosts: Record<string, { fingerprint: string }> };
    expect(pins.hosts[`127.0.0.1:${sshd.port}`]?.fingerprint).toBe(sshd.hostFingerprint);
    const b = JSON.parse(ok(lifeboat(['backup', path.join(s.dir, 'src'), '--json', '--sftp-key', sshd.userKeyFile], { env }), 'backup').stdout) as { snapshot_id: string };
    const snaps = JSON.parse(ok(lifeboat(['snapshots', '--json', '--sftp-key', sshd.userKeyFile], { env }), 'snapshots').stdout) as { id: string }[];
    expect(snaps.map((x) => x.id)).toEqual([b.snapshot_id]);
    ok(lifeboat(['check', '--read-data', '--sftp-key', sshd.userKeyFile], { env }), 'check');
    const target = path.join(s.dir, 'restored');
    ok(lifeboat(['restore', 'latest', '--target', target, '--sftp-key', sshd.userKeyFile], { env }), 'restore');
    expect(readFileSync(path.join(target, s.dir, 'src', 'ledger.csv'), 'utf8')).toContain('2026-11-23,42');
  });

  it('says what is missing for S3', () => {
    const r = lifeboat(['snapshots'], { env: { LIFEBOAT_REPOSITORY: 's3:http://127.0.0.1:9/bucket', LIFEBOAT_PASSWORD: 'x', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('s3: set AWS_ACCESS_KEY_ID');
  });
});
