import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { principalKey } from '@gatehouse/auth';
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
  POLICY_SOURCE,
  type Candidates,
  type CompiledPolicy,
  type Decision,
  type DecisionInput,
  type PolicySource,
} from '../types';
import { classify, type Classification } from '../engine/classify';
import { governedTarget, type GovernedTarget } from './targets';

interface CachedCandidates {
  candidates: Candidates;
  version: number;
  expires: number;
}

const MAX_CACHED = 50_000;

type Governed = GovernedTarget & { classification: Classification };

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
    const target = governedTarget(call);
    if (!target) return;
    const policy = this.source.current();
    const classification = this.classify(target, policy);
    call.facts.classification = classification;
    const governed = { ...target, classification };
    const decision = policy
      ? this.decide(policy, call, governed)
      : denied(governed, 'no policy is active on this gateway; an administrator must activate one');
    call.facts.policy = decision;
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

  /** R12: lists keep only what the principal may call. */
  result(call: CallContext, result: Record<string, unknown>): Record<string, unknown> {
    const field = LIST_FIELDS[call.request.method];
    if (!field) return result;
    const items = result[field.key];
    if (!Array.isArray(items)) return result;
    const policy = this.source.current();
    const kept = items.filter((item: Record<string, unknown>) => {
      if (!policy) return false;
      const raw = item[field.name];
      if (typeof raw !== 'string') return false;
      const where = this.locate(call, raw, field.uri);
      if (!where) return false;
      const upstream = this.config.upstreams[where.server];
      try {
        return policy.mayList({
          principal: call.principal,
          server: where.server,
          serverTags: upstream?.tags ?? {},
          tool: where.name,
        });
      } catch (err) {
        this.logger.error({ err }, 'policy engine failed while filtering a list; the item is hidden');
        return false;
      }
    });
    return kept.length === items.length ? result : { ...result, [field.key]: kept };
  }

  /** Read or write: prompts and resources are reads; tools are writes unless proven or attested read. */
  private classify(target: GovernedTarget, policy: CompiledPolicy | undefined): Classification {
    if (target.kind !== 'tool') return { action: 'read', touched: [], reasons: [`a ${target.kind} is read`] };
    const upstream = this.config.upstreams[target.server] as UpstreamConfig;
    return classify({
      server: target.server,
      serverTags: upstream.tags,
      tool: target.name,
      args: target.args,
      readOnlyTools: upstream.readOnlyTools,
      sql: upstream.sql,
      attestations: policy?.document.attestations ?? [],
      inspect: inspectSql,
    });
  }

  private decide(policy: CompiledPolicy, call: CallContext, governed: Governed): Decision {
    const upstream = this.config.upstreams[governed.server] as UpstreamConfig;
    const input: DecisionInput = {
      principal: call.principal,
      server: governed.server,
      serverTags: upstream.tags,
      tool: governed.name,
      args: governed.args,
      action: governed.classification.action,
      touched: governed.classification.touched,
      now: new Date(),
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

  private candidates(policy: CompiledPolicy, input: DecisionInput): Candidates {
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

const LIST_FIELDS: Record<string, { key: string; name: string; uri: boolean } | undefined> = {
  'tools/list': { key: 'tools', name: 'name', uri: false },
  'prompts/list': { key: 'prompts', name: 'name', uri: false },
  'resources/list': { key: 'resources', name: 'uri', uri: true },
  'resources/templates/list': { key: 'resourceTemplates', name: 'uriTemplate', uri: true },
};

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
