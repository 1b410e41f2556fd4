import { canonicalUri, looseUri } from '../language/uri';

/** What a governed call is about: the upstream, the name it knows, and the arguments. */
export interface GovernedTarget {
  /** `tool`: tools/call; `prompt`: prompts/get; `resource`: resources/read and subscribe. */
  kind: 'tool' | 'prompt' | 'resource';
  server: string;
  /** Tool or prompt name, or resource URI, as the upstream knows it. */
  name: string;
  /** A resource URI's loose form, which deny rules match too (`looseUri`). */
  aliases?: string[];
  args: Record<string, unknown>;
  /** Set when the name cannot be decided on (an ambiguous resource URI): the call is refused. */
  refused?: string;
}

/**
 * Which calls the policy decides, and on what. Lists are filtered instead (R12); ping, logging
 * levels and unsubscribing carry no data of their own and are not governed. Task calls
 * (tasks/get, tasks/result, tasks/cancel) are decided as the request that created the task, which
 * the gateway recorded with the task's owner (`CallContext.task`); tasks/list is a list, narrowed
 * by the gateway to the caller's own tasks.
 * Takes the call's parts rather than a live call, so calls a bridge ran itself are decided the
 * same way: `params` as the upstream sees them (tool names without the `server__` prefix).
 */
export function governedTarget(
  server: string | undefined,
  method: string,
  params: Record<string, unknown>,
): GovernedTarget | undefined {
  if (!server || server === '*') return undefined;
  switch (method) {
    case 'tools/call':
      return { kind: 'tool', server, name: text(params.name), args: record(params.arguments) };
    case 'prompts/get':
      return { kind: 'prompt', server, name: text(params.name), args: record(params.arguments) };
    case 'resources/read':
    case 'resources/subscribe': {
      // Decided on the canonical URI, which the policy stage also forwards (issue 13 point 4).
      const uri = canonicalUri(text(params.uri));
      if (!uri.ok) return { kind: 'resource', server, name: text(params.uri), args: {}, refused: uri.reason };
      return { kind: 'resource', server, name: uri.uri, aliases: [looseUri(uri.uri)], args: {} };
    }
    case 'completion/complete': {
      // Completing a prompt's or resource template's arguments reveals values: it needs the same right.
      const ref = record(params.ref);
      return ref.type === 'ref/prompt'
        ? { kind: 'prompt', server, name: text(ref.name), args: {} }
        : { kind: 'resource', server, name: text(ref.uri), args: {} };
    }
    default:
      return undefined;
  }
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
