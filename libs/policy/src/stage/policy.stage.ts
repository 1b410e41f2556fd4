import { Inject, Injectable, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { principalKey, type Principal } from '@gatehouse/auth';
import { GATEHOUSE_CONFIG, type GatehouseConfig, type UpstreamConfig } from '@gatehouse/config';
import { initSqlInspector, inspectSql } from '@gatehouse/inspect';
import { LOGGER, type Logger } from '@gatehouse/observability';
import {
  type CallContext,
  type CallStage,
  TransportError,
  TransportErrorCode,
  unqualify,
  unqualifyUri,
} from '@gatehouse/transport';
import {
  BYPASS_GRANTS,
  POLICY_SOURCE,
  type BypassFacts,
  type BypassGrants,
  type BypassedDecision,
  type Candidates,
  type CompiledPolicy,
  type Decision,
  type DecisionInput,
  type PolicySource,
} from '../types';
import { classify, unknownRelations, type Classification } from '../engine/classify';
import { canonicalUri, looseUri } from '../language/uri';
import { governedTarget, type GovernedTarget } from './targets';

interface CachedCandidates {
  candidates: Candidates;
  version: number;
  expires: number;
}

const MAX_CACHED = 50_000;

type Governed = GovernedTarget & { classification: Classification };

/** What the active policy says of one governed call ({@link PolicyStage.evaluate}). */
export interface PolicyEvaluation {
  /** What the call is about: upstream, tool/prompt/resource name, arguments. */
  target: GovernedTarget;
  /** Read or write and the resources the inspectors found. */
  classification: Classification;
  decision: Decision;
}

/**
 * The policy in the call pipeline: every governed call (tools/call, prompts/get, resources/read
 * and subscribe, completion) is decided against the active version before the upstream is
 * reached, and lists show only what the principal may call (R12). The argument-independent part
 * of a decision is cached for `policy.decisionCacheSeconds` and dropped on every activation.
 */
@Injectable()
export class PolicyStage implements CallStage, OnModuleInit, OnModuleDestroy {
  readonly name = 'policy';
  private readonly cache = new Map<string, CachedCandidates>();
  private readonly ttlMs: number;
  private readonly unsubscribe: () => void;

  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(POLICY_SOURCE) private readonly source: PolicySource,
    @Inject(LOGGER) private readonly logger: Logger,
    @Optional() @Inject(BYPASS_GRANTS) private readonly bypass?: BypassGrants,
  ) {
    this.ttlMs = config.policy.decisionCacheSeconds * 1000;
    this.unsubscribe = source.onChange(() => this.cache.clear());
  }

  /** The SQL inspector's parser is WebAssembly, loaded once before the first call. */
  async onModuleInit(): Promise<void> {
    await initSqlInspector();
  }

  onModuleDestroy(): void {
    this.unsubscribe();
  }

  async before(call: CallContext): Promise<void> {
    const params = call.upstreamParams ?? call.request.params ?? {};
    if (call.request.method === 'resources/unsubscribe' && typeof params.uri === 'string') {
      // Not decided, but it must name the subscription as the (canonical) subscribe recorded it.
      const uri = canonicalUri(params.uri);
      if (uri.ok && uri.uri !== params.uri) call.upstreamParams = { ...params, uri: uri.uri };
      return;
    }
    // A task call (13.3) is decided as the request that created the task, asked again now: it
    // proceeds only while the policy still allows that request to this principal.
    const evaluation = this.evaluate(
      call.principal,
      call.server,
      call.task?.createdBy ?? { method: call.request.method, params },
    );
    if (!evaluation) return;
    const { decision, target: governed } = evaluation;
    if (governed.kind === 'resource' && typeof params.uri === 'string' && params.uri !== governed.name) {
      // What was decided is what the upstream reads: the canonical URI.
      call.upstreamParams = { ...params, uri: governed.name };
    }
    call.facts.classification = evaluation.classification;
    call.facts.policy = decision;
    if (governed.refused !== undefined) {
      throw new TransportError(TransportErrorCode.INVALID_PARAMS, governed.refused);
    }
    if (decision.outcome === 'shadow-deny') {
      this.logger.warn(
        {
          principal: call.principal.subject,
          server: governed.server,
          tool: governed.name,
          rules: decision.matchedRules,
          reason: decision.reason,
        },
        'shadow-deny: the policy would deny this call; enforcement is shadow, so it proceeds',
      );
    }
    if (decision.allow) this.liftLimits(call, evaluation);
    else if (this.lift(call, evaluation)) return;
    if (!decision.allow) {
      throw new TransportError(TransportErrorCode.POLICY_DENIED, decision.reason, {
        decision: {
          outcome: decision.outcome,
          matchedRules: decision.matchedRules,
          action: decision.action,
          touched: decision.touched,
          policyVersion: decision.policyVersion,
          ...(decision.error ? { error: true } : {}),
        },
      });
    }
  }

  /**
   * A call the policy allows inside a grant that lifts rate limits: the decision stays as it is,
   * `call.facts.bypass` tells the rate-limit stage (and the audit) which grant lifted them.
   */
  private liftLimits(call: CallContext, evaluation: PolicyEvaluation): void {
    if (!this.bypass) return;
    const { target, classification } = evaluation;
    const cover = this.bypass.covering(call.principal, target.server, target.name, classification.action);
    if (!cover?.liftsRateLimits) return;
    const facts: BypassFacts = { grantId: cover.grantId, liftsRateLimits: true };
    call.facts.bypass = facts;
  }

  /**
   * Break glass (R51): a policy deny inside an active grant's scope proceeds, recorded as decision
   * `bypass` with the grant's id. An engine error (R10) is not a decision and is never lifted: the
   * remedy for a broken policy is a rollback.
   */
  private lift(call: CallContext, evaluation: PolicyEvaluation): boolean {
    const { decision, target, classification } = evaluation;
    if (!this.bypass || decision.outcome !== 'deny' || decision.error) return false;
    const cover = this.bypass.covering(call.principal, target.server, target.name, classification.action);
    if (!cover) return false;
    const bypassed: BypassedDecision = {
      ...decision,
      allow: true,
      outcome: 'bypass',
      grantId: cover.grantId,
    };
    const facts: BypassFacts = { grantId: cover.grantId, liftsRateLimits: cover.liftsRateLimits };
    call.facts.policy = bypassed;
    call.facts.bypass = facts;
    this.logger.warn(
      {
        principal: call.principal.subject,
        server: target.server,
        tool: target.name,
        rules: decision.matchedRules,
        grant: cover.grantId,
      },
      'bypass: the policy denies this call; an active break-glass grant lets it through',
    );
    return true;
  }

  /**
   * Decides one call exactly as {@link before} does (the active version, read/write classification
   * with the SQL inspector, the decision cache, engine errors denying), without a live call or an
   * upstream: the ingest endpoint decides calls a bridge already ran on a direct server this way.
   * `params` are as the upstream sees them (no `server__` prefix). `undefined` when the method is
   * not governed (lists, ping). A server this gateway does not know is denied, as a call to it
   * through the gateway would be (nothing could route it). Nothing is logged or thrown here.
   * `at` is the time conditions see as `now` (default: now); a reported call passes its start, so
   * a time-of-day rule judges it by when it ran, not by when it was uploaded.
   */
  evaluate(
    principal: Principal,
    server: string | undefined,
    request: { method: string; params?: Record<string, unknown> },
    at: Date = new Date(),
  ): PolicyEvaluation | undefined {
    const target = governedTarget(server, request.method, request.params ?? {});
    if (!target) return undefined;
    const policy = this.source.current();
    if (target.refused !== undefined) {
      const classification = this.classify(target, undefined, policy, () => undefined);
      return {
        target,
        classification,
        decision: denied({ ...target, classification }, target.refused, policy?.version),
      };
    }
    const upstream = this.config.upstreams[target.server];
    if (!upstream) {
      const classification: Classification = {
        action: target.kind === 'tool' ? 'write' : 'read',
        touched: [],
        relations: unknownRelations('the server is not an upstream of this gateway'),
        reasons: [`"${target.server}" is not an upstream of this gateway`],
      };
      const reason = `this gateway has no upstream named "${target.server}"; an administrator must add it before calls to it can be allowed`;
      return {
        target,
        classification,
        decision: denied({ ...target, classification }, reason, policy?.version),
      };
    }
    // Cheap checks before expensive ones: what principal × server × tool alone decides is decided
    // before any argument is inspected (SQL parsed, CEL run on arguments).
    const unreachable = policy && this.uninspected(policy, principal, upstream, target);
    if (unreachable) return unreachable;
    let oversized: number | undefined;
    const classification = this.classify(target, upstream, policy, (bytes) => (oversized = bytes));
    if (oversized !== undefined) {
      const max = this.config.policy.maxInspectedSqlBytes;
      const reason =
        `the SQL of ${oversized.toLocaleString('en')} bytes was not inspected: this gateway inspects at most ` +
        `${max.toLocaleString('en')} bytes of SQL per call (policy.maxInspectedSqlBytes); split the statement`;
      const tooLong: Classification = {
        action: 'write',
        touched: [],
        relations: unknownRelations('the SQL was not inspected'),
        reasons: [reason],
      };
      return {
        target,
        classification: tooLong,
        decision: denied({ ...target, classification: tooLong }, reason, policy?.version),
      };
    }
    const governed = { ...target, classification };
    const decision = policy
      ? this.decide(policy, principal, upstream, governed, at)
      : denied(governed, 'no policy is active on this gateway; an administrator must activate one');
    return { target, classification, decision };
  }

  /** R12: lists keep only what the principal may call. */
  result(call: CallContext, result: Record<string, unknown>): Record<string, unknown> {
    if (call.request.method === 'tools/call' || call.request.method === 'prompts/get') {
      return this.withholdDenied(call, result);
    }
    const field = LIST_FIELDS[call.request.method];
    if (!field) return result;
    const items = result[field.key];
    if (!Array.isArray(items)) return result;
    const policy = this.source.current();
    const kept = items.filter((item: Record<string, unknown>) => {
      const raw = item[field.name];
      if (typeof raw !== 'string') return false;
      const located = this.locate(call, raw, field.uri);
      if (!located) return false;
      let where: { server: string; name: string; aliases?: string[] } = located;
      if (field.key === 'resources') {
        // Listed as the policy would decide a read of it; a URI no read could use is hidden.
        const uri = canonicalUri(located.name);
        if (!uri.ok) return false;
        where = { server: located.server, name: uri.uri, aliases: [looseUri(uri.uri)] };
      }
      const upstream = this.config.upstreams[where.server];
      // A tool a grant opens is listed too, or clients would never call it.
      if (this.bypass?.covering(call.principal, where.server, where.name, 'write')) return true;
      if (!policy) return false;
      try {
        return policy.mayList({
          principal: call.principal,
          server: where.server,
          serverTags: upstream?.tags ?? {},
          tool: where.name,
          ...(where.aliases ? { aliases: where.aliases } : {}),
        });
      } catch (err) {
        this.logger.error({ err }, 'policy engine failed while filtering a list; the item is hidden');
        return false;
      }
    });
    return kept.length === items.length ? result : { ...result, [field.key]: kept };
  }

  /**
   * A resource a deny rule keeps from this principal does not arrive embedded in a tool's or a
   * prompt's result instead (issue 13 point 4: the same resource through another door): each
   * embedded resource is decided as a read of its URI, and one an explicit deny (or an engine
   * error) covers is replaced by a text item saying why. Resources no rule mentions pass, so
   * policies that only govern tools keep working; an embedded URI the gateway cannot judge is
   * withheld.
   */
  private withholdDenied(call: CallContext, result: Record<string, unknown>): Record<string, unknown> {
    const policy = this.source.current();
    const server = call.server;
    if (!policy || !server || server === '*') return result;
    const serverTags = this.config.upstreams[server]?.tags ?? {};
    let changed = false;
    const check = (item: unknown): unknown => {
      if (!isRecord(item) || item.type !== 'resource' || !isRecord(item.resource)) return item;
      const shown = item.resource.uri;
      if (typeof shown !== 'string') return item;
      const raw = call.target === '*' ? (unqualifyUri(shown)?.uri ?? shown) : shown;
      const why = this.embeddedRefusal(policy, call.principal, server, serverTags, raw);
      if (why === undefined) return item;
      changed = true;
      return { type: 'text', text: `[resource ${shown} withheld by the gateway: ${why}]` };
    };
    let out = result;
    if (Array.isArray(result.content)) out = { ...out, content: result.content.map(check) };
    if (Array.isArray(result.messages)) {
      out = {
        ...out,
        messages: result.messages.map((m: unknown) =>
          isRecord(m) && m.content !== undefined
            ? { ...m, content: Array.isArray(m.content) ? m.content.map(check) : check(m.content) }
            : m,
        ),
      };
    }
    return changed ? out : result;
  }

  private embeddedRefusal(
    policy: CompiledPolicy,
    principal: Principal,
    server: string,
    serverTags: Record<string, string>,
    raw: string,
  ): string | undefined {
    const uri = canonicalUri(raw);
    if (!uri.ok) return uri.reason;
    const decision = policy.decide({
      principal,
      server,
      serverTags,
      tool: uri.uri,
      aliases: [looseUri(uri.uri)],
      args: {},
      action: 'read',
      touched: [],
      relations: unknownRelations('an embedded resource carries no SQL the gateway inspects'),
      now: new Date(),
    });
    const explicit = decision.matchedRules.length > 0 || decision.error === true;
    return decision.outcome === 'deny' && explicit ? decision.reason : undefined;
  }

  /**
   * The call denied on principal × server × tool alone, when no rule could allow it whatever its
   * arguments (no allow matches for read or write, or an unconditional deny covers it, and neither
   * is in shadow: exactly what hides a tool from lists, R12) and no break-glass grant covers it.
   * Undefined when the arguments could still matter.
   */
  private uninspected(
    policy: CompiledPolicy,
    principal: Principal,
    upstream: UpstreamConfig,
    target: GovernedTarget,
  ): PolicyEvaluation | undefined {
    const subject = {
      principal,
      server: target.server,
      serverTags: upstream.tags,
      tool: target.name,
      relations: unknownRelations('the arguments were not inspected'),
    };
    if (policy.mayList(subject)) return undefined;
    if (this.bypass?.covering(principal, target.server, target.name, 'read')) return undefined;
    if (this.bypass?.covering(principal, target.server, target.name, 'write')) return undefined;
    const action = target.kind === 'tool' ? 'write' : 'read';
    const rules = new Set<string>();
    // A tool may turn out read or write once inspected; prompts and resources are always read.
    for (const a of target.kind === 'tool' ? (['read', 'write'] as const) : (['read'] as const)) {
      for (const rule of this.candidates(policy, { ...subject, action: a }).rules) {
        if (rule.effect === 'deny' && !rule.conditions.when && !rule.conditions.schemas) rules.add(rule.id);
      }
    }
    const ids = [...rules];
    const by = ids.length === 0 ? '' : ` (denied by ${ids.map((id) => `rule "${id}"`).join(', ')})`;
    const reason =
      `no rule could allow ${describe(principal)} to call ${target.server}/${target.name} whatever its ` +
      `arguments${by}: the arguments were not inspected`;
    const classification: Classification = {
      action,
      touched: [],
      relations: unknownRelations('the arguments were not inspected'),
      reasons: [reason],
    };
    const decision = denied({ ...target, classification }, reason, policy.version);
    decision.matchedRules = ids;
    return { target, classification, decision };
  }

  /**
   * Read or write: prompts and resources are reads; tools are writes unless proven or attested
   * read. SQL longer than `policy.maxInspectedSqlBytes` is not parsed: `tooLong` is told its size.
   */
  private classify(
    target: GovernedTarget,
    upstream: UpstreamConfig | undefined,
    policy: CompiledPolicy | undefined,
    tooLong: (bytes: number) => void,
  ): Classification {
    if (target.kind !== 'tool') {
      return {
        action: 'read',
        touched: [],
        relations: unknownRelations(`a ${target.kind} carries no SQL the gateway inspects`),
        reasons: [`a ${target.kind} is read`],
      };
    }
    const max = this.config.policy.maxInspectedSqlBytes;
    return classify({
      server: target.server,
      serverTags: upstream?.tags ?? {},
      tool: target.name,
      args: target.args,
      readOnlyTools: upstream?.readOnlyTools ?? [],
      ...(upstream?.sql ? { sql: upstream.sql } : {}),
      attestations: policy?.document.attestations ?? [],
      inspect: (sql, options) => {
        // A JavaScript string's UTF-8 size is at most three times its length: short ones are not measured.
        const bytes = sql.length * 3 <= max ? 0 : Buffer.byteLength(sql);
        if (bytes > max) {
          tooLong(bytes);
          throw new Error(`SQL over ${max} bytes is not inspected`);
        }
        return inspectSql(sql, options);
      },
    });
  }

  private decide(
    policy: CompiledPolicy,
    principal: Principal,
    upstream: UpstreamConfig,
    governed: Governed,
    now: Date,
  ): Decision {
    const input: DecisionInput = {
      principal,
      server: governed.server,
      serverTags: upstream.tags,
      tool: governed.name,
      ...(governed.aliases ? { aliases: governed.aliases } : {}),
      args: governed.args,
      action: governed.classification.action,
      touched: governed.classification.touched,
      relations: governed.classification.relations,
      now,
    };
    try {
      return policy.decideWith(this.candidates(policy, input), input);
    } catch (err) {
      // R10: whatever goes wrong inside the engine denies.
      this.logger.error({ err }, 'policy engine error; the call is denied');
      return {
        ...denied(governed, `policy engine error: ${(err as Error).message}`, policy.version),
        error: true,
      };
    }
  }

  private candidates(
    policy: CompiledPolicy,
    input: Omit<DecisionInput, 'args' | 'touched' | 'now'>,
  ): Candidates {
    const { principal } = input;
    const key = `${principalKey(principal)}\u0001${principal.groups.join('\u0002')}\u0001${principal.roles.join('\u0002')}\u0001${input.server}\u0001${input.tool}\u0001${input.action}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.version === policy.version && hit.expires > now) return hit.candidates;
    const candidates = policy.candidates(input);
    if (this.ttlMs > 0) {
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(key, { candidates, version: policy.version, expires: now + this.ttlMs });
    }
    return candidates;
  }

  private locate(call: CallContext, raw: string, uri: boolean): { server: string; name: string } | undefined {
    if (call.target !== '*') return { server: call.target, name: raw };
    if (uri) {
      const found = unqualifyUri(raw);
      return found ? { server: found.server, name: found.uri } : undefined;
    }
    return unqualify(raw);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const LIST_FIELDS: Record<string, { key: string; name: string; uri: boolean } | undefined> = {
  'tools/list': { key: 'tools', name: 'name', uri: false },
  'prompts/list': { key: 'prompts', name: 'name', uri: false },
  'resources/list': { key: 'resources', name: 'uri', uri: true },
  'resources/templates/list': { key: 'resourceTemplates', name: 'uriTemplate', uri: true },
};

function describe(p: Principal): string {
  const kind =
    p.kind === 'service' ? 'service account' : p.kind === 'anonymous' ? 'anonymous caller' : 'user';
  return `${kind} "${p.subject}"`;
}

function denied(governed: Governed, reason: string, policyVersion = 0): Decision {
  return {
    allow: false,
    outcome: 'deny',
    matchedRules: [],
    reason,
    action: governed.classification.action,
    enforcement: 'enforce',
    touched: governed.classification.touched,
    policyVersion,
  };
}
