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

  it('repos add keeps SFTP credentials in the encrypted secrets file; jobs run uses them; the database holds references', () => {
    const env = { LIFEBOAT_DATA_DIR: path.join(s.dir, 'svc-data'), LIFEBOAT_VAULT_PASSPHRASE: 'a passphrase for the secrets file' };
    const url = `sftp://${sshd.user}@127.0.0.1:${sshd.port}/${path.join(s.dir, 'svc-repo')}`;
    const args = ['repos', 'add', 'offsite', url, '--password-file', s.passwordFile, '--init', '--credential', `sftpPrivateKey=${sshd.userKeyFile}`, '--json'];
    const bad = lifeboat(['repos', 'add', 'offsite', url, '--password-ref', `file:${s.passwordFile}`, '--credential', `sftpToken=${sshd.userKeyFile}`], { env });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('credentials.sftpToken: is not a credential field');
    const added = JSON.parse(ok(lifeboat(args, { env }), 'repos add').stdout) as { credentials: string[] };
    expect(added.credentials).toEqual(['sftpPrivateKey']);
    ok(lifeboat(['jobs', 'add', 'ledger', '--repository', 'offsite', '--path', path.join(s.dir, 'src')], { env }), 'jobs add');
    const run = JSON.parse(ok(lifeboat(['jobs', 'run', 'ledger', '--json'], { env }), 'jobs run').stdout) as { status: string };
    expect(run.status).toBe('success');
    const db = readFileSync(path.join(s.dir, 'svc-data', 'lifeboat.db'));
    expect(db.includes('vault:repository:offsite:sftpPrivateKey')).toBe(true);
    const keyBody = readFileSync(sshd.userKeyFile, 'utf8').split('\n')[1]!;
    expect(keyBody.length).toBeGreaterThan(40);
    expect(db.includes(keyBody)).toBe(false);
  });

  it('says what is missing for S3', () => {
    const r = lifeboat(['snapshots'], { env: { LIFEBOAT_REPOSITORY: 's3:http://127.0.0.1:9/bucket', LIFEBOAT_PASSWORD: 'x', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('s3: set AWS_ACCESS_KEY_ID');
  });
});
