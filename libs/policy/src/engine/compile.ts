import type { Principal } from '@gatehouse/auth';
import { compileCondition, type Condition } from '../language/cel';
import { globMatcher, isGlob, type Matcher } from '../language/glob';
import { canonicalUri, looseUri } from '../language/uri';
import type {
  Action,
  Candidates,
  CompiledPolicy,
  Decision,
  DecisionInput,
  EnforcementEntry,
  EnforcementMode,
  PolicyDocument,
  PolicyRule,
  Relation,
  TouchedRelations,
} from '../types';

/** Reasons of decisions the engine could not make start with this (R10: they deny). */
export const ENGINE_ERROR_PREFIX = 'policy engine error: ';

interface CompiledRule {
  rule: PolicyRule;
  /** Position in the document: candidates are reported in document order. */
  index: number;
  users: ReadonlySet<string>;
  groups: readonly string[];
  roles: readonly string[];
  servers: readonly Matcher[];
  tools: readonly Matcher[];
  /** Deny rules only: the tool patterns in loose form, matched against `aliases`. */
  looseTools: readonly Matcher[];
  tags: readonly [string, string][];
  when?: Condition;
  /** Conditions that depend on the call's arguments or time; without them the rule is unconditional. */
  conditional: boolean;
}

type SubjectInput = Pick<DecisionInput, 'principal' | 'server' | 'serverTags' | 'tool' | 'aliases'>;

class RuleCandidates implements Candidates {
  constructor(
    readonly rules: readonly PolicyRule[],
    readonly compiled: readonly CompiledRule[],
    readonly policy: Engine,
  ) {}
}

/**
 * Compiles a checked document once per version: CEL programs, glob matchers and an index of
 * rules by exact server name (plus one bucket for rules with server globs or no server).
 * Assumes the document came from a successful `parsePolicy`; throws if a condition does not compile.
 */
export function compilePolicy(document: PolicyDocument, version: number): CompiledPolicy {
  return new Engine(document, version);
}

class Engine implements CompiledPolicy {
  private readonly byServer = new Map<string, CompiledRule[]>();
  private readonly anyServer: CompiledRule[] = [];
  private readonly enforcement: readonly EnforcementEntry[];

  constructor(
    readonly document: PolicyDocument,
    readonly version: number,
  ) {
    document.rules.forEach((rule, index) => {
      const compiled = compileRule(rule, index);
      const servers = rule.resource.servers;
      if (servers.length > 0 && servers.every((s) => !isGlob(s))) {
        for (const server of new Set(servers)) {
          const bucket = this.byServer.get(server) ?? [];
          bucket.push(compiled);
          this.byServer.set(server, bucket);
        }
      } else {
        this.anyServer.push(compiled);
      }
    });
    // Most specific first (more tags, then an exact action), ties in document order.
    this.enforcement = [...document.enforcement].sort(
      (a, b) =>
        Object.keys(b.tags).length - Object.keys(a.tags).length ||
        Number(a.action === '*') - Number(b.action === '*'),
    );
  }

  candidates(input: Omit<DecisionInput, 'args' | 'touched' | 'relations' | 'now'>): Candidates {
    const compiled = this.matching(input).filter((c) => c.rule.actions.includes(input.action));
    return new RuleCandidates(
      compiled.map((c) => c.rule),
      compiled,
      this,
    );
  }

  decide(input: DecisionInput): Decision {
    try {
      return this.decideWith(this.candidates(input), input);
    } catch (err) {
      return this.engineError(input, [], err);
    }
  }

  decideWith(candidates: Candidates, input: DecisionInput): Decision {
    try {
      return this.evaluate(candidates, input);
    } catch (err) {
      return this.engineError(input, [], err);
    }
  }

  /**
   * R12: true when, for read or for write, some allow rule matches principal × server × tool
   * (conditional allows count: the arguments are not known when listing) and no unconditional
   * deny (no `when`, no `schemas`) matching the same covers that action — or when that action is
   * in shadow for the server's tags, since a shadow deny lets the call through.
   */
  mayList(input: Omit<DecisionInput, 'args' | 'touched' | 'relations' | 'now' | 'action'>): boolean {
    try {
      const rules = this.matching(input);
      return (['read', 'write'] as const).some((action) => {
        if (this.modeFor(input.serverTags, action) === 'shadow') return true;
        const applies = rules.filter((c) => c.rule.actions.includes(action));
        return (
          applies.some((c) => c.rule.effect === 'allow') &&
          !applies.some((c) => c.rule.effect === 'deny' && !c.conditional)
        );
      });
    } catch {
      // R10: an engine error hides the tool rather than showing what cannot be decided.
      return false;
    }
  }

  /** Rules whose subject and resource match, in document order (any action). */
  private matching(input: SubjectInput): CompiledRule[] {
    const exact = this.byServer.get(input.server) ?? [];
    const out: CompiledRule[] = [];
    for (const c of exact) if (matches(c, input)) out.push(c);
    const before = out.length;
    for (const c of this.anyServer) if (matches(c, input)) out.push(c);
    if (before > 0 && out.length > before) out.sort((a, b) => a.index - b.index);
    return out;
  }

  private evaluate(candidates: Candidates, input: DecisionInput): Decision {
    if (!(candidates instanceof RuleCandidates) || candidates.policy !== this) {
      throw new Error(`candidates were computed by another policy version than ${this.version}`);
    }
    const allows: CompiledRule[] = [];
    const denies: CompiledRule[] = [];
    const schemaMisses: CompiledRule[] = [];
    let unknownDeny = false;
    for (const c of candidates.compiled) {
      const schemas = c.rule.conditions.schemas;
      if (schemas && !schemasHold(c.rule.effect, input.relations, schemas)) {
        if (c.rule.effect === 'allow') schemaMisses.push(c);
        continue;
      }
      if (schemas && c.rule.effect === 'deny' && !input.relations.known) unknownDeny = true;
      if (c.when) {
        let holds: boolean;
        try {
          holds = c.when(input);
        } catch (err) {
          // R10: a condition that cannot be evaluated denies, whichever effect its rule has.
          return this.engineError(input, [c.rule.id], err, `the condition of rule "${c.rule.id}" failed: `);
        }
        if (!holds) continue;
      }
      (c.rule.effect === 'deny' ? denies : allows).push(c);
    }
    const who = describePrincipal(input.principal);
    const what = `${input.action} ${input.server}/${input.tool}`;
    if (denies.length > 0) {
      const ids = denies.map((c) => c.rule.id);
      const unknown =
        unknownDeny && !input.relations.known
          ? ` (it limits schemas, and the relations the call touches cannot be known: ${input.relations.why})`
          : '';
      return this.denied(input, ids, `${who} may not ${what}: denied by ${ruleList(ids)}${unknown}`);
    }
    if (allows.length > 0) {
      const ids = allows.map((c) => c.rule.id);
      const limits = allows.flatMap((c) => c.rule.conditions.rateLimitPerMinute ?? []);
      const decision: Decision = {
        allow: true,
        outcome: 'allow',
        matchedRules: ids,
        reason: `${who} may ${what}: allowed by ${ruleList(ids)}`,
        action: input.action,
        enforcement: this.modeFor(input.serverTags, input.action),
        touched: input.touched,
        policyVersion: this.version,
      };
      if (limits.length > 0) decision.rateLimitPerMinute = Math.min(...limits);
      return decision;
    }
    let reason = `no rule allows ${who} to ${what}`;
    if (schemaMisses.length > 0) {
      const c = schemaMisses[0] as CompiledRule;
      const schemas = c.rule.conditions.schemas ?? [];
      const touched = input.relations;
      const why = touched.known
        ? `the call touches ${touched.relations
            .filter((r) => !schemas.includes(r.schema))
            .map(relationName)
            .join(', ')}`
        : `the relations the call touches cannot be known: ${touched.why}`;
      reason += ` (rule "${c.rule.id}" allows only schemas ${schemas.join(', ')}; ${why})`;
    }
    return this.denied(input, [], reason);
  }

  private denied(input: DecisionInput, matchedRules: string[], reason: string): Decision {
    const enforcement = this.modeFor(input.serverTags, input.action);
    const shadow = enforcement === 'shadow';
    return {
      allow: shadow,
      outcome: shadow ? 'shadow-deny' : 'deny',
      matchedRules,
      reason: shadow ? `${reason} (shadow: the call proceeds)` : reason,
      action: input.action,
      enforcement,
      touched: input.touched,
      policyVersion: this.version,
    };
  }

  /** R10: never shadowed; an error denies even where enforcement is shadow. */
  private engineError(input: DecisionInput, matchedRules: string[], err: unknown, context = ''): Decision {
    const message = err instanceof Error ? err.message : String(err);
    let enforcement: EnforcementMode = 'enforce';
    try {
      enforcement = this.modeFor(input.serverTags, input.action);
    } catch {
      // The input itself may be what broke; the mode only labels the record.
    }
    return {
      allow: false,
      outcome: 'deny',
      matchedRules,
      reason: `${ENGINE_ERROR_PREFIX}${context}${message.split('\n')[0] ?? message}`,
      action: input.action,
      enforcement,
      touched: Array.isArray(input.touched) ? input.touched : [],
      policyVersion: this.version,
      error: true,
    };
  }

  /** The most specific enforcement entry for these tags and action; none → enforce. */
  private modeFor(tags: Record<string, string>, action: Action): EnforcementMode {
    for (const e of this.enforcement) {
      if (e.action !== '*' && e.action !== action) continue;
      if (Object.entries(e.tags).every(([k, v]) => tags[k] === v)) return e.mode;
    }
    return 'enforce';
  }
}

function compileRule(rule: PolicyRule, index: number): CompiledRule {
  const compiled: CompiledRule = {
    rule,
    index,
    users: new Set(rule.subject.users),
    groups: rule.subject.groups,
    roles: rule.subject.roles,
    servers: rule.resource.servers.map(globMatcher),
    tools: rule.resource.tools.map(toolMatcher),
    looseTools: rule.effect === 'deny' ? rule.resource.tools.map((t) => globMatcher(loosePattern(t))) : [],
    tags: Object.entries(rule.resource.tags),
    conditional: rule.conditions.when !== undefined || rule.conditions.schemas !== undefined,
  };
  if (rule.conditions.when !== undefined) compiled.when = compileCondition(rule.conditions.when);
  return compiled;
}

/** Subject (any listed user, group or role) and resource (server, tool and every tag). */
function matches(c: CompiledRule, input: SubjectInput): boolean {
  const s = c.rule.subject;
  const p = input.principal;
  const subject =
    s.any ||
    c.users.has(p.subject) ||
    c.groups.some((g) => p.groups.includes(g)) ||
    c.roles.some((r) => (p.roles as readonly string[]).includes(r));
  if (!subject) return false;
  if (c.servers.length > 0 && !c.servers.some((m) => m(input.server))) return false;
  if (c.tools.length > 0 && !c.tools.some((m) => m(input.tool)) && !looseMatch(c, input.aliases)) {
    return false;
  }
  for (const [k, v] of c.tags) if (input.serverTags[k] !== v) return false;
  return true;
}

/**
 * `conditions.schemas` (docs/policy.md): an allow holds only when what the call touches is known
 * and every relation is in one of the schemas (a known empty set holds); a deny applies when any
 * relation is in one of them, and when what the call touches is not known (fail closed). Schema
 * names are compared whole, as parsed: `public."secret.keys"` is in `public`, never in `secret`;
 * an allow compares them exactly, a deny ignoring case.
 */
export function schemasHold(
  effect: PolicyRule['effect'],
  touched: TouchedRelations,
  schemas: readonly string[],
): boolean {
  if (!touched.known) return effect === 'deny';
  if (effect === 'allow') return touched.relations.every((r) => schemas.includes(r.schema));
  // A deny also covers the schema's other spellings: `schemas: [Secret]` written for the unquoted
  // (lower-case) `secret` must not silently stop applying.
  const lower = schemas.map((s) => s.toLowerCase());
  return touched.relations.some((r) => lower.includes(r.schema.toLowerCase()));
}

/** `schema.name` with each part quoted as the SQL inspector quotes it, for messages. */
function relationName(r: Relation): string {
  return `${quoteIdent(r.schema)}.${quoteIdent(r.name)}`;
}

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** An exact resource URI in a rule also matches its canonical form, which is what calls are decided on. */
function toolMatcher(pattern: string): Matcher {
  const exact = globMatcher(pattern);
  if (isGlob(pattern)) return exact;
  const canonical = canonicalUri(pattern);
  if (!canonical.ok || canonical.uri === pattern) return exact;
  const uri = canonical.uri;
  return (name) => name === pattern || name === uri;
}

/** A deny rule also matches a resource URI's loose forms (a deny matches what may be the same resource). */
function looseMatch(c: CompiledRule, aliases: readonly string[] | undefined): boolean {
  if (!aliases || c.looseTools.length === 0) return false;
  return aliases.some((a) => c.looseTools.some((m) => m(a)));
}

/** An exact URI pattern in loose form; a glob (or a name that is not a URI) lower-cased. */
function loosePattern(pattern: string): string {
  if (isGlob(pattern)) return pattern.toLowerCase();
  const canonical = canonicalUri(pattern);
  return canonical.ok ? looseUri(canonical.uri) : pattern.toLowerCase();
}

function describePrincipal(p: Principal): string {
  const kind =
    p.kind === 'service' ? 'service account' : p.kind === 'anonymous' ? 'anonymous caller' : 'user';
  return `${kind} "${p.subject}"`;
}

function ruleList(ids: string[]): string {
  return ids.length === 1 ? `rule "${ids[0]}"` : `rules ${ids.map((id) => `"${id}"`).join(', ')}`;
}
