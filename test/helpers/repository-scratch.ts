import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Repository } from '../../main/engine/repository.js';
import { LocalTarget } from '../../main/engine/targets/local.js';
import { requireTool, scratch } from './tools.js';

/**
 * The setup of a test that backs up a source folder into a real local
 * repository and compares with restic: the tools it needs (a missing one
 * fails with how to install it), a scratch folder `s`, an empty source folder
 * `src` in it, and `repoDir` for the repository with its `password` (the
 * scratch's password file). `init()` creates the repository once the source
 * is written; `withRepository` opens it for one piece of work and closes it.
 */
export function repositoryScratch(...tools: string[]) {
  for (const tool of ['restic', ...tools]) requireTool(tool);
  const s = scratch();
  const src = path.join(s.dir, 'src');
  const repoDir = path.join(s.dir, 'repo');
  const password = readFileSync(s.passwordFile, 'utf8').trim();
  mkdirSync(src);
  return {
    s,
    src,
    repoDir,
    password,
    init: async (): Promise<void> => {
      await (await Repository.init(new LocalTarget(repoDir), password)).close();
    },
    withRepository: async <T>(fn: (repo: Repository) => Promise<T>): Promise<T> => {
      const repo = await Repository.open(new LocalTarget(repoDir), password);
      try {
        return await fn(repo);
      } finally {
        await repo.close();
      }
    },
  };
}
