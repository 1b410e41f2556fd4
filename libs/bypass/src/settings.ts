import type { GatehouseConfig } from '@gatehouse/config';
import { compileGlob } from '@gatehouse/policy';
import type { GrantMode } from './bypass-grant.entity';

/** Which mode grants touching some servers must use: the first entry whose globs match decides. */
export interface ModeRule {
  /** Server name globs. */
  servers: string[];
  mode: GrantMode;
}

/** The bypass settings, from `bypass:` in the configuration ({@link settingsFrom}). */
export interface BypassSettings {
  defaultDurationSeconds: number;
  maxDurationSeconds: number;
  /** Immediate grants: the post-hoc review is overdue this long after opening. */
  reviewWindowSeconds: number;
  modes: ModeRule[];
  /** How often each replica reloads the grants from the database, in case an announcement was lost. */
  checkMs: number;
}

/** Every replica reloads its grants this often: with Redis away, changes still arrive within 2 s. */
export const DEFAULT_CHECK_MS = 1_000;

/**
 * The settings of `bypass:`; a mode rule's glob that does not compile stops start-up, naming the
 * key (the schema cannot check globs: the glob syntax lives in the policy lib).
 */
export function settingsFrom(config: GatehouseConfig['bypass']): BypassSettings {
  config.modes.forEach((rule, i) =>
    rule.servers.forEach((pattern, j) => {
      const compiled = compileGlob(pattern);
      if (!compiled.ok)
        throw new Error(`bypass.modes[${i}].servers[${j}]: "${pattern}" ${compiled.message}; fix the glob`);
    }),
  );
  return {
    defaultDurationSeconds: config.defaultDurationMinutes * 60,
    maxDurationSeconds: config.maxDurationMinutes * 60,
    reviewWindowSeconds: config.reviewWindowHours * 3600,
    modes: config.modes,
    checkMs: DEFAULT_CHECK_MS,
  };
}

/** Nest injection token for {@link BypassSettings}. */
export const BYPASS_SETTINGS = Symbol('BYPASS_SETTINGS');

/**
 * The mode a grant over `servers` (globs) must use: approval-first as soon as any upstream the
 * grant reaches falls under an approval-first rule (the first rule matching an upstream decides),
 * or when its opener asks for approval. Stricter always wins: nobody can choose break glass where
 * the configuration wants approval first.
 */
export function modeFor(
  servers: readonly string[],
  upstreams: readonly string[],
  rules: readonly ModeRule[],
  askApproval: boolean,
): GrantMode {
  if (askApproval) return 'approval-first';
  const reach = matcherOf(servers);
  const compiled = rules.map((rule) => ({ mode: rule.mode, match: matcherOf(rule.servers) }));
  for (const upstream of upstreams) {
    if (!reach(upstream)) continue;
    if (compiled.find((rule) => rule.match(upstream))?.mode === 'approval-first') return 'approval-first';
  }
  return 'immediate';
}

/** One matcher for a list of name globs (invalid globs match nothing; requests are checked before). */
export function matcherOf(patterns: readonly string[]): (name: string) => boolean {
  const matchers = patterns.flatMap((p) => {
    const compiled = compileGlob(p);
    return compiled.ok ? [compiled.match] : [];
  });
  return (name) => matchers.some((m) => m(name));
}
