/** The snapshot browser's pure index: children with folder totals, search, and the difference of two snapshots. */
import { describe, expect, it } from 'vitest';
import { buildSnapshotIndex, diffIndexes, listChildren, searchIndex, type IndexedNode } from '../../shared/snapshot-index.js';

const T = '2026-03-02T10:00:00.000Z';
const dir = (path: string): IndexedNode => ({ path, name: path.slice(path.lastIndexOf('/') + 1), type: 'dir', size: 0, mtime: T, content: 'dir', mode: 0o755 });
const file = (path: string, size: number, content = `c-${path}`, mode = 0o644): IndexedNode => ({ path, name: path.slice(path.lastIndexOf('/') + 1), type: 'file', size, mtime: T, content, mode });

const before = buildSnapshotIndex([dir('/srv'), dir('/srv/www'), file('/srv/www/index.html', 100), file('/srv/www/Logo.PNG', 5000), dir('/srv/old'), file('/srv/old/a.txt', 7), file('/srv/db.sql', 900)]);
const after = buildSnapshotIndex([
  dir('/srv'),
  dir('/srv/www'),
  file('/srv/www/index.html', 120, 'changed'),
  file('/srv/www/Logo.PNG', 5000),
  file('/srv/www/about.html', 30),
  file('/srv/db.sql', 900, 'c-/srv/db.sql', 0o600),
]);

describe('snapshot index', () => {
  it('lists children in name order with folder totals', () => {
    expect(listChildren(before, '/')!.map((e) => [e.name, e.size])).toEqual([['srv', 6007]]);
    expect(listChildren(before, '/srv/')!.map((e) => [e.name, e.type, e.size])).toEqual([
      ['db.sql', 'file', 900],
      ['old', 'dir', 7],
      ['www', 'dir', 5100],
    ]);
    expect(listChildren(before, '/srv/db.sql')).toBeNull();
    expect(listChildren(before, '/nope')).toBeNull();
  });

  it('searches names case-insensitively, with * and ? wildcards, up to a limit', () => {
    expect(searchIndex(before, 'logo', 10).entries.map((e) => e.path)).toEqual(['/srv/www/Logo.PNG']);
    expect(searchIndex(before, '*.png', 10).entries.map((e) => e.path)).toEqual(['/srv/www/Logo.PNG']);
    expect(searchIndex(before, '?.txt', 10).entries.map((e) => e.path)).toEqual(['/srv/old/a.txt']);
    expect(searchIndex(before, 'a.(txt', 10).entries).toEqual([]);
    expect(searchIndex(before, 'l', 2)).toMatchObject({ truncated: true, entries: [{ path: '/srv/db.sql' }, { path: '/srv/old' }] });
    expect(searchIndex(before, 's', 2)).toMatchObject({ truncated: false, entries: [{ path: '/srv' }, { path: '/srv/db.sql' }] });
  });

  it('diffs two snapshots by content and mode, folders only when added or removed', () => {
    const d = diffIndexes(before, after);
    expect(d.added.map((e) => e.path)).toEqual(['/srv/www/about.html']);
    expect(d.removed.map((e) => e.path)).toEqual(['/srv/old', '/srv/old/a.txt']);
    expect(d.changed.map((c) => [c.path, c.before.size, c.after.size])).toEqual([
      ['/srv/db.sql', 900, 900],
      ['/srv/www/index.html', 100, 120],
    ]);
    expect(d).toMatchObject({ bytesAdded: 30 + 900 + 120, bytesRemoved: 7 });
    expect(diffIndexes(after, after)).toMatchObject({ added: [], removed: [], changed: [] });
  });
});
