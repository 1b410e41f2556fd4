import picomatch from 'picomatch';

/** A precompiled server or tool name pattern. */
export type Matcher = (name: string) => boolean;

/**
 * Names are not paths, so `*` matches any run of characters (bash mode treats it like `**`),
 * leading dots included; `!` and extglobs are not special, so a pattern never means "everything but".
 */
const OPTIONS: picomatch.PicomatchOptions = {
  bash: true,
  dot: true,
  nonegate: true,
  noextglob: true,
  strictBrackets: true,
};

/** Whether the pattern uses glob syntax at all (an exact name is matched by string comparison). */
export function isGlob(pattern: string): boolean {
  // Any special character goes through picomatch, so an unbalanced `[` or `{` is reported, not taken literally.
  return /[*?[\]{}\\]/.test(pattern);
}

/** Compiles a name glob, or says why it is not one (unbalanced `[` / `{`, trailing `\`, empty). */
export function compileGlob(pattern: string): { ok: true; match: Matcher } | { ok: false; message: string } {
  if (pattern.length === 0) return { ok: false, message: 'is an empty pattern' };
  if (!isGlob(pattern)) return { ok: true, match: (name) => name === pattern };
  let re: RegExp;
  try {
    re = picomatch.makeRe(pattern, OPTIONS);
  } catch (err) {
    return {
      ok: false,
      message: `is not a valid glob (${err instanceof Error ? err.message : String(err)})`,
    };
  }
  // picomatch compiles a pattern it cannot make sense of (a dangling escape) to a regex matching nothing.
  if (re.source === '$^') return { ok: false, message: 'is not a valid glob (it ends with a lone "\\")' };
  return { ok: true, match: (name) => re.test(name) };
}

const cache = new Map<string, Matcher>();

/** A matcher for a pattern already known to be valid (config globs, checked rules); cached by pattern. */
export function globMatcher(pattern: string): Matcher {
  let m = cache.get(pattern);
  if (!m) {
    const compiled = compileGlob(pattern);
    // An invalid pattern matches nothing: failing closed beats throwing inside a decision.
    m = compiled.ok ? compiled.match : () => false;
    cache.set(pattern, m);
  }
  return m;
}
