/**
 * Exclude patterns (shared/glob.ts): restic-style globs over absolute paths.
 */
import { describe, expect, it } from 'vitest';
import { compileExcludes } from '../../shared/glob.js';

/** Asserts which paths one pattern set excludes and which it keeps. */
function check(patterns: string[], excluded: string[], kept: string[]): void {
  const m = compileExcludes(patterns);
  for (const p of excluded) expect(m(p), `${JSON.stringify(patterns)} should exclude ${p}`).toBe(true);
  for (const p of kept) expect(m(p), `${JSON.stringify(patterns)} should keep ${p}`).toBe(false);
}

describe('compileExcludes', () => {
  it('excludes nothing without patterns', () => {
    check([], [], ['/', '/a', '/a/b.tmp']);
  });

  it('*.tmp matches a name at any depth, but only the whole name', () => {
    check(
      ['*.tmp'],
      ['/a/b/x.tmp', '/x.tmp', '/a/.tmp', '/a/b/c/d/e/f.tmp', '/a/b/x.y.tmp'],
      ['/a/b/x.tmp2', '/a/b/x.tmpx', '/a/b/xtmp', '/a/b/x.TMP', '/a/b/x_tmp'],
    );
  });

  it('a bare name (node_modules) matches at any depth', () => {
    check(
      ['node_modules'],
      ['/node_modules', '/a/node_modules', '/a/b/c/d/node_modules', '/srv/www/site/node_modules/'],
      ['/a/node_modules2', '/a/my_node_modules', '/a/node_module', '/node', '/a/b'],
    );
  });

  it('an anchored pattern matches from the root, and everything below it', () => {
    check(
      ['/home/*/cache'],
      ['/home/ann/cache', '/home/bob/cache', '/home/ann/cache/x', '/home/ann/cache/x/y/z.bin', '/home/.x/cache'],
      ['/x/home/ann/cache', '/home/ann/cached', '/home/cache', '/home/ann/b/cache', '/home/ann', '/home', '/'],
    );
    check(['/etc'], ['/etc', '/etc/passwd', '/etc/ssh/sshd_config'], ['/a/etc', '/etcetera', '/']);
  });

  it('** matches any number of components, including none', () => {
    check(
      ['**/build/*.o'],
      ['/build/a.o', '/src/build/a.o', '/a/b/c/build/x.o', '/build/build/y.o'],
      ['/build/sub/a.o', '/build/a.oo', '/src/build', '/src/builds/a.o', '/a.o'],
    );
    check(
      ['/src/**/*.o'],
      ['/src/a.o', '/src/x/a.o', '/src/x/y/z/a.o'],
      ['/other/src/a.o', '/src/a.c', '/srcx/a.o'],
    );
    check(['/var/**/log'], ['/var/log', '/var/a/b/log', '/var/a/log/x'], ['/x/var/log', '/var/logs']);
  });

  it('a relative pattern with a slash matches a trailing part of the path', () => {
    check(
      ['foo/bar'],
      ['/foo/bar', '/x/foo/bar', '/a/b/foo/bar'],
      ['/x/afoo/bar', '/x/foo/bar2', '/x/foo/x/bar', '/x/bar', '/foo'],
    );
    check(['.git/objects'], ['/repo/.git/objects'], ['/repo/.git', '/repo/agit/objects']);
  });

  it('? matches exactly one character, not a slash', () => {
    check(['file?.txt'], ['/d/file1.txt', '/d/fileX.txt', '/file..txt'], ['/d/file10.txt', '/d/file.txt', '/d/file/.txt']);
    check(['a?b'], ['/x/a-b'], ['/x/a/b', '/x/ab']);
  });

  it('character classes: [abc], ranges and negation', () => {
    check(['[abc].log'], ['/x/a.log', '/x/b.log', '/c.log'], ['/x/d.log', '/x/ab.log', '/x/.log', '/x/A.log']);
    check(['v[0-9]'], ['/pkg/v1', '/pkg/v9'], ['/pkg/va', '/pkg/v10', '/pkg/v']);
    // restic uses Go's filepath.Match: '^' negates a class, '!' is an ordinary character.
    check(['[^a].log'], ['/x/b.log', '/x/!.log', '/x/z.log'], ['/x/a.log', '/x/ab.log']);
    check(['[!a].log'], ['/x/!.log', '/x/a.log'], ['/x/b.log', '/x/z.log']);
    check(['[^a].log'], ['/x/b.log', '/x/z.log'], ['/x/a.log']);
  });

  it('treats regular-expression characters and escaped wildcards literally', () => {
    check(['a+b(1).txt'], ['/d/a+b(1).txt'], ['/d/aab1.txt', '/d/a+b(1)xtxt', '/d/ab(1).txt']);
    check(['a.b'], ['/a.b'], ['/axb']);
    check(['^x$|y'], ['/d/^x$|y'], ['/d/x', '/d/y']);
    check(['{a,b}'], ['/d/{a,b}'], ['/d/a', '/d/b']);
    check(['\\*.txt'], ['/d/*.txt'], ['/d/a.txt']);
  });

  it('ignores a trailing slash and repeated slashes', () => {
    check(['cache/'], ['/a/cache'], ['/a/cache2']);
    check(['/home//ann/'], ['/home/ann', '/home/ann/x'], ['/home/bob']);
    check(['node_modules'], ['//a//node_modules'], []);
  });

  it('excludes a path matched by any of several patterns', () => {
    check(['*.tmp', '/var/cache', 'node_modules'], ['/a/x.tmp', '/var/cache/apt', '/w/node_modules'], ['/a/x.txt', '/x/var/cache']);
  });

  it('throws on a malformed "[" naming the field and the pattern', () => {
    expect(() => compileExcludes(['ok', 'bad[x'], 'backup.excludes')).toThrow('backup.excludes: unclosed "[" in pattern "bad[x"');
    expect(() => compileExcludes(['['])).toThrow('exclude: unclosed "["');
    expect(() => compileExcludes(['/a/[b/c'], 'sources[0].exclude')).toThrow(/^sources\[0\]\.exclude: unclosed "\["/);
    expect(() => compileExcludes(['[]'], 'f')).toThrow('f: unclosed "["');
  });

  it('throws on an empty pattern, naming the field', () => {
    expect(() => compileExcludes([''], 'plan.excludes')).toThrow('plan.excludes: empty pattern');
    expect(() => compileExcludes(['/'], 'plan.excludes')).toThrow('plan.excludes: empty pattern');
    expect(() => compileExcludes(['///'])).toThrow('exclude: empty pattern');
  });
});
