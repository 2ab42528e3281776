/**
 * Exclude patterns with restic's semantics: `*`, `?`, `[...]` match within
 * one path component, `**` matches any number of components. A pattern
 * without a slash matches a name at any depth; a pattern starting with `/`
 * is anchored at the root; any other pattern matches a trailing part of
 * the path.
 */
export type ExcludeMatcher = (absPath: string) => boolean;

function componentRegex(part: string, field: string): RegExp {
  let re = '';
  for (let i = 0; i < part.length; i++) {
    const c = part[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = part.indexOf(']', i + 2);
      if (end < 0) throw new Error(`${field}: unclosed "[" in pattern ${JSON.stringify(part)}`);
      // As in Go's filepath.Match (which restic uses), only a leading '^' negates a class, as in JS.
      const cls = part.slice(i + 1, end);
      re += '[' + cls.replace(/\\/g, '\\\\') + ']';
      i = end;
    } else if (c === '\\' && i + 1 < part.length) {
      re += '\\' + part[++i];
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp('^' + re + '$');
}

function compileOne(pattern: string, field: string): ExcludeMatcher {
  const p = pattern.replace(/\/+$/, '');
  if (!p) throw new Error(`${field}: empty pattern`);
  const anchored = p.startsWith('/');
  const parts = p.split('/').filter((x) => x !== '');
  const matchers = parts.map((x) => (x === '**' ? '**' : componentRegex(x, field)));
  const matchFrom = (segs: string[], si: number, mi: number): boolean => {
    if (mi === matchers.length) return si === segs.length;
    const m = matchers[mi]!;
    if (m === '**') {
      for (let k = si; k <= segs.length; k++) if (matchFrom(segs, k, mi + 1)) return true;
      return false;
    }
    return si < segs.length && m.test(segs[si]!) && matchFrom(segs, si + 1, mi + 1);
  };
  return (absPath) => {
    const segs = absPath.split('/').filter((x) => x !== '');
    if (anchored) {
      // An anchored pattern also excludes everything below what it matches.
      for (let end = segs.length; end >= 1; end--) if (matchFrom(segs.slice(0, end), 0, 0)) return true;
      return false;
    }
    for (let start = 0; start < segs.length; start++) if (matchFrom(segs, start, 0)) return true;
    return false;
  };
}

/** Compiles exclude patterns; throws naming `field` and the pattern when one is malformed. */
export function compileExcludes(patterns: readonly string[], field = 'exclude'): ExcludeMatcher {
  const ms = patterns.map((p) => compileOne(p, field));
  return (absPath) => ms.some((m) => m(absPath));
}
