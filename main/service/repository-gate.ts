/**
 * In-process readers-writer gate per repository: backups and restores enter
 * shared, maintenance (prune) exclusive. Waiters are served in arrival
 * order, and a waiting writer holds back later readers, so maintenance is
 * never starved by a stream of backups and nothing fails because of the
 * other: it waits. The on-disk restic lock still guards against other
 * processes.
 */
export class RepositoryGate {
  private states = new Map<number, { readers: number; writer: boolean; queue: { exclusive: boolean; grant: () => void }[] }>();

  /** Number of holders and waiters (for status displays). */
  describe(repoId: number): { readers: number; writer: boolean; waiting: number } {
    const s = this.states.get(repoId);
    return { readers: s?.readers ?? 0, writer: s?.writer ?? false, waiting: s?.queue.length ?? 0 };
  }

  /** Resolves with a release function once entry is granted. */
  enter(repoId: number, exclusive: boolean): Promise<() => void> {
    let s = this.states.get(repoId);
    if (!s) this.states.set(repoId, (s = { readers: 0, writer: false, queue: [] }));
    const state = s;
    return new Promise((resolve) => {
      state.queue.push({ exclusive, grant: () => resolve(this.releaser(repoId, exclusive)) });
      this.pump(repoId);
    });
  }

  private releaser(repoId: number, exclusive: boolean): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const s = this.states.get(repoId)!;
      if (exclusive) s.writer = false;
      else s.readers--;
      this.pump(repoId);
    };
  }

  private pump(repoId: number): void {
    const s = this.states.get(repoId)!;
    while (s.queue.length > 0) {
      const head = s.queue[0]!;
      if (head.exclusive ? s.writer || s.readers > 0 : s.writer) return;
      s.queue.shift();
      if (head.exclusive) s.writer = true;
      else s.readers++;
      head.grant();
    }
  }
}
