/**
 * The StorageTarget contract suite (target-contract.ts) run against every
 * target: LocalTarget on a temporary folder, SftpTarget against a real
 * OpenSSH server on 127.0.0.1 (test/helpers/sshd.ts). Both keep files in a
 * local folder, so `raw` reads that folder directly.
 */
import { promises as fsp, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalTarget } from '../../main/engine/targets/local.js';
import { openTarget } from '../../main/engine/targets/open-target.js';
import { SftpTarget } from '../../main/engine/targets/sftp.js';
import { WorkerTarget } from '../../main/engine/targets/worker-target.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';
import { describeTargetContract, type RawStorage } from './target-contract.js';

/** Raw access to a repository kept in a local folder. */
function folderRaw(root: string): RawStorage {
  const walk = async (want: 'files' | 'dirs'): Promise<string[]> => {
    const out: string[] = [];
    const go = async (dir: string, rel: string) => {
      let entries;
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      for (const e of entries) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (want === 'dirs') out.push(r);
          await go(path.join(dir, e.name), r);
        } else if (want === 'files') out.push(r);
      }
    };
    await go(root, '');
    return out.sort();
  };
  return {
    files: () => walk('files'),
    dirs: () => walk('dirs'),
    async write(rel, data) {
      const file = path.join(root, ...rel.split('/'));
      await fsp.mkdir(path.dirname(file), { recursive: true });
      await fsp.writeFile(file, data);
    },
  };
}

function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return dir;
}

describeTargetContract(
  'LocalTarget',
  async () => {
    const dir = tempDir('lifeboat-contract-local-');
    const root = path.join(dir, 'repo');
    return { target: new LocalTarget(root), raw: folderRaw(root), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  },
  // LocalTarget.close() has nothing to release and does not refuse later work (yet).
  { refusesAfterClose: false },
);

describeTargetContract('WorkerTarget (a LocalTarget in its own thread)', async () => {
  const dir = tempDir('lifeboat-contract-worker-');
  const root = path.join(dir, 'repo');
  return {
    target: new WorkerTarget({ location: root, displayLocation: root, options: {} }),
    raw: folderRaw(root),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

let sshd: Sshd;
beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.dispose();
});

describeTargetContract('SftpTarget', async () => {
  const dir = tempDir('lifeboat-contract-sftp-');
  const root = path.join(dir, 'repo');
  const target = new SftpTarget(`sftp://${sshd.user}@127.0.0.1:${sshd.port}/${root}`, {
    privateKey: readFileSync(sshd.userKeyFile),
    knownHostsFile: path.join(dir, 'known_hosts.json'),
    connections: 4,
  });
  return { target, raw: folderRaw(root), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

describe('openTarget', () => {
  it('opens local folders, local: and sftp: locations, and refuses s3: for now', async () => {
    const dir = tempDir('lifeboat-open-');
    try {
      expect(openTarget(path.join(dir, 'a'))).toBeInstanceOf(LocalTarget);
      expect(openTarget(`local:${path.join(dir, 'b')}`).location).toBe(path.join(dir, 'b'));
      const t = openTarget(`sftp:${sshd.user}@127.0.0.1:${path.join(dir, 'c')}`, {
        connections: 3,
        sftp: { privateKey: readFileSync(sshd.userKeyFile), knownHostsFile: path.join(dir, 'kh.json') },
      });
      expect(t).toBeInstanceOf(SftpTarget);
      expect(t.connections).toBe(3);
      expect(t.location).toBe(`sftp:${sshd.user}@127.0.0.1:${path.join(dir, 'c')}`);
      await t.close();
      expect(() => openTarget('sftp:nas:/srv/repo')).toThrow(/sftp locations need SFTP options/);
      expect(() => openTarget('s3:https://s3.example.com/bucket')).toThrow(/s3 locations need S3 credentials/);
      expect(() => openTarget('  ')).toThrow(/location is empty/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
