/** Storage damage, for tests that a repository's corruption is found and named. */
import { closeSync, openSync, readdirSync, readSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';

/** The data pack files of a repository in a local folder, largest first. */
export function packFilesLargestFirst(repoDir: string): string[] {
  return readdirSync(path.join(repoDir, 'data'), { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name))
    .sort((a, b) => statSync(b).size - statSync(a).size);
}

/** Flips the bits `mask` selects in the byte at `offset` of `file`, as failing storage would. */
export function flipByte(file: string, offset: number, mask = 0xff): void {
  const fd = openSync(file, 'r+');
  try {
    const one = Buffer.alloc(1);
    if (readSync(fd, one, 0, 1, offset) !== 1) throw new Error(`flipByte: ${file} has no byte at ${offset}`);
    one[0] = one[0]! ^ mask;
    writeSync(fd, one, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}
