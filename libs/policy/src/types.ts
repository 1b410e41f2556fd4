import type { Principal } from '@gatehouse/auth';

export type Action = 'read' | 'write';
export type Effect = 'allow' | 'deny';
export type EnforcementMode = 'enforce' | 'shadow';

/** Where a rule or problem comes from in a policy file (1-based). */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

/** One rule, normalised from the YAML (the seed's form and the extensions). */
export interface PolicyRule {
  /** Given `id`, or generated `<file>#<n>` (1-based position in its file). */
  id: string;
  description?: string;
  effect: Effect;
  subject: { any: boolean; users: string[]; groups: string[]; roles: string[] };
  resource: { servers: string[]; tools: string[]; tags: Record<string, string> };
  /** `['read']`, `['write']` or both (`'*'`). */
  actions: Action[];
  conditions: {
    /** CEL over `args`, `principal`, `server`, `tool`, `now`. */
    when?: string;
    /**
     * SQL servers. An allow holds when every relation the call touches is in one of these schemas
     * (and what it touches is known); a deny applies when any is, or when what it touches is unknown.
     */
    schemas?: string[];
    rateLimitPerMinute?: number;
  };
  source: SourcePosition;
}

/** `enforcement:` entries: server tags × action → shadow or enforce. The most specific match wins. */
export interface EnforcementEntry {
  tags: Record<string, string>;
  action: Action | '*';
  mode: EnforcementMode;
  source: SourcePosition;
}

/** An admin's attestation that tools are read-only (`tools:` section of a policy file). */
export interface ToolAttestation {
  server: string;
  /** Tool name glob. */
  tool: string;
  action: 'read';
  source: SourcePosition;
}

/** A whole policy version: every file of the policy directory, parsed and checked. */
export interface PolicyDocument {
  rules: PolicyRule[];
  enforcement: EnforcementEntry[];
  attestations: ToolAttestation[];
}

/** One problem in a policy file; a version with any problem never activates. */
export interface PolicyProblem extends SourcePosition {
  message: string;
}

/** A relation as the SQL parser gave it: schema and name kept apart (either may contain a dot). */
export interface Relation {
  schema: string;
  name: string;
}

/**
 * What a call touches, for `conditions.schemas`: every relation (possibly none), or `known: false`
 * with why when the inspectors cannot name them all (a DO block, CALL, a user function, a tool that
 * carries no inspected SQL, …).
 */
export type TouchedRelations = { known: true; relations: Relation[] } | { known: false; why: string };

/** What the engine is asked (per call). */
export interface DecisionInput {
  principal: Principal;
  server: string;
  serverTags: Record<string, string>;
  /** The tool (or prompt/resource) name as the upstream knows it (a resource URI canonicalised). */
  tool: string;
  /**
   * Other names an upstream might read as the same target (a resource URI's loose form, see
   * `looseUri`). Deny rules match these too, lower-cased; allow rules only `tool`.
   */
  aliases?: readonly string[];
  args: Record<string, unknown>;
  /** Decided beforehand by classification: attestations, SQL inspection, default write. */
  action: Action;
  /** `schema.table` the inspectors found in the arguments, for the record and messages. */
  touched: string[];
  /** What `conditions.schemas` decides on. */
  relations: TouchedRelations;
  now: Date;
}

/** What the engine answers; it goes to the audit record as is. */
export interface Decision {
  /** Whether the call may proceed (a shadow-deny proceeds). */
  allow: boolean;
  /** `shadow-deny`: the policy denies, enforcement for this server × action is shadow. */
  outcome: 'allow' | 'deny' | 'shadow-deny';
  matchedRules: string[];
  /** A sentence for the caller and the audit. */
  reason: string;
  action: Action;
  enforcement: EnforcementMode;
  rateLimitPerMinute?: number;
  touched: string[];
  policyVersion: number;
  /** The engine could not decide (R10): denied, and audited as `policy_error`. */
  error?: true;
}

/** One file of a policy version, as stored and as read from a directory (path relative to it). */
export interface PolicyFile {
  path: string;
  text: string;
}

export type ParseResult = { ok: true; document: PolicyDocument } | { ok: false; problems: PolicyProblem[] };

/** The rules that apply to a principal × server × tool × action before arguments are looked at. */
export interface Candidates {
  /** Opaque to callers: what `decideWith` needs. Cacheable for `policy.decisionCacheSeconds`. */
  readonly rules: readonly PolicyRule[];
}

/** A policy version compiled once (CEL programs, glob matchers, indexes); decides per call. */
export interface CompiledPolicy {
  readonly version: number;
  readonly document: PolicyDocument;
  /** The argument-independent part of a decision (subject, resource, action). */
  candidates(input: Omit<DecisionInput, 'args' | 'touched' | 'relations' | 'now'>): Candidates;
  /** Conditions (CEL, schemas), effect, enforcement: the per-call part. Never throws (R10: errors deny). */
  decideWith(candidates: Candidates, input: DecisionInput): Decision;
  /** `candidates` + `decideWith`. */
  decide(input: DecisionInput): Decision;
  /** Whether the principal may call this tool at all (R12 list filtering): some allow rule could match. */
  mayList(input: Omit<DecisionInput, 'args' | 'touched' | 'relations' | 'now' | 'action'>): boolean;
}

/** The active policy of this replica: swapped on activation or rollback on every replica. */
export interface PolicySource {
  /** The compiled active version, or undefined when no policy was ever activated. */
  current(): CompiledPolicy | undefined;
  /** Called after every swap; returns the unsubscribe function. */
  onChange(listener: (policy: CompiledPolicy | undefined) => void): () => void;
}

/** Nest injection token for {@link PolicySource}. */
export const POLICY_SOURCE = Symbol('POLICY_SOURCE');

/** An active break-glass grant that covers a call (R51): what the pipeline needs of it. */
export interface BypassCover {
  grantId: string;
  /** The grant also lifts rate limits (only when its opener asked for that). */
  liftsRateLimits: boolean;
}

/**
 * The break-glass port (issue 7): consulted by the policy stage only when the policy denies. The
 * bypass lib implements it from grants cached in memory, so a decision costs no database round
 * trip; an implementation compares `now` with each grant's expiry on every call.
 */
export interface BypassGrants {
  /** The active grant covering this principal × server × tool (a prompt name or resource URI), if any. */
  covering(principal: Principal, server: string, tool: string, action: Action): BypassCover | undefined;
}

/** Nest injection token for {@link BypassGrants} (optional: without it no call is ever bypassed). */
export const BYPASS_GRANTS = Symbol('BYPASS_GRANTS');

/**
 * `call.facts.policy` of a call the policy denied and a grant let through: the deny as the engine
 * gave it (rules, reason, version), now allowed with outcome `bypass` and the grant's id.
 */
export interface BypassedDecision extends Omit<Decision, 'allow' | 'outcome'> {
  allow: true;
  outcome: 'bypass';
  /** The grant that lifted the deny. */
  grantId: string;
}

/** `call.facts.bypass`: which grant let the call through and whether it lifts rate limits. */
export type BypassFacts = BypassCover;
