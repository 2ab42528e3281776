import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * Owner names as restic records them in a tree (`user`, `group`): the name
 * of a node's uid in /etc/passwd and of its gid in /etc/group (the first
 * entry for an ID, as Go's os/user reads those files). Both files are read
 * once per process. Where they cannot be read (Windows, a locked-down
 * system) the running user's own name is still known.
 */
export class OwnerNames {
  private users: Map<number, string> | undefined;
  private groups: Map<number, string> | undefined;

  constructor(
    private readonly passwdFile = '/etc/passwd',
    private readonly groupFile = '/etc/group',
  ) {}

  /** The user name of `uid`, if it has one. */
  user(uid: number): string | undefined {
    this.users ??= this.load(this.passwdFile, () => {
      const me = os.userInfo();
      return new Map([[me.uid, me.username]]);
    });
    return this.users.get(uid);
  }

  /** The group name of `gid`, if it has one. */
  group(gid: number): string | undefined {
    this.groups ??= this.load(this.groupFile, () => new Map());
    return this.groups.get(gid);
  }

  private load(file: string, fallback: () => Map<number, string>): Map<number, string> {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return fallback();
    }
    const out = new Map<number, string>();
    // name:password:id:... per line; comments, blank and malformed lines (and NIS "+" entries) are skipped.
    for (const line of text.split('\n')) {
      const [name, , id] = line.split(':');
      if (!name || name.startsWith('#') || name.startsWith('+') || name.startsWith('-') || id === undefined || !/^\d+$/.test(id)) continue;
      const n = Number(id);
      if (!out.has(n)) out.set(n, name);
    }
    return out;
  }
}
