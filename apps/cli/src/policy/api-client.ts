import type { FetchLike } from '@modelcontextprotocol/client';

import type { PolicyFile, PolicyProblem } from '@gatehouse/policy';

import { PolicyCliError, PolicyCliErrorCode } from './errors';

/** A version as the admin API describes it (the fields the CLI uses). */
export interface VersionView {
  number: number;
  status: string;
  message: string;
  author: { subject: string; name: string | null };
  paths: string[];
}

export interface VersionDetailView extends VersionView {
  files: PolicyFile[];
}

/** `GET /api/v1/policy/active`. */
export interface ActiveView {
  version: number | null;
}

/** `GET /api/v1/policy/diff`: one unified diff per changed file. */
export interface DiffView {
  from: number;
  to: number;
  files: Array<{ path: string; change: 'added' | 'removed' | 'modified'; patch: string }>;
}

/** Where the bearer token comes from, for messages and for one retry after a 401. */
export interface BearerSource {
  /** The token to send now, or undefined to send none. */
  token(): Promise<string | undefined>;
  /** After a 401: true when a new token may help (a refreshed login), so the request is sent once more. */
  renew(): Promise<boolean>;
  /** "the token in $GATEHOUSE_TOKEN", "your login for https://gw", "no token". */
  readonly describe: string;
  /** What to do when the gateway refuses it. */
  readonly remedy: string;
}

/** What each step is, for messages: `"create a draft"`, and who may. */
interface Step {
  doing: string;
  /** The console roles that may take the step, as the admin API checks them. */
  roles: string;
}

const STEPS = {
  create: { doing: 'create a draft version', roles: 'policy-approver or admin' },
  propose: { doing: 'propose the version', roles: 'policy-approver or admin' },
  read: { doing: 'read policy versions', roles: 'policy-approver, admin or auditor' },
} satisfies Record<string, Step>;

/** The gateway's error body: `{ error: { code, message, problems? } }`. */
interface ErrorBody {
  error?: { code?: string; message?: string; problems?: PolicyProblem[] };
}

/**
 * The policy part of the gateway's admin REST API (`/api/v1/policy`, documented in
 * `/api/v1/openapi.json`), with refusals turned into {@link PolicyCliError}s that say what to do.
 */
export class PolicyApi {
  /** `https://gw` (no trailing slash, no `/mcp`). */
  readonly base: string;

  constructor(
    base: string,
    private readonly bearer: BearerSource,
    private readonly fetch: FetchLike = globalThis.fetch,
  ) {
    this.base = base.replace(/\/+$/, '');
  }

  /** The API's address of one version: what `push` prints. */
  versionUrl(number: number): string {
    return `${this.base}/api/v1/policy/versions/${number}`;
  }

  /** A new draft from files; the gateway checks them again and answers 422 with the problems. */
  createDraft(files: PolicyFile[], message: string): Promise<VersionView> {
    return this.call(STEPS.create, 'POST', '/api/v1/policy/versions', { message, files });
  }

  propose(number: number, comment?: string): Promise<VersionView> {
    return this.call(
      STEPS.propose,
      'POST',
      `/api/v1/policy/versions/${number}/propose`,
      comment !== undefined ? { comment } : {},
    );
  }

  version(number: number): Promise<VersionDetailView> {
    return this.call(STEPS.read, 'GET', `/api/v1/policy/versions/${number}`);
  }

  active(): Promise<ActiveView> {
    return this.call(STEPS.read, 'GET', '/api/v1/policy/active');
  }

  diff(from: number, to: number): Promise<DiffView> {
    return this.call(STEPS.read, 'GET', `/api/v1/policy/diff?from=${from}&to=${to}`);
  }

  private async call<T>(step: Step, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let response = await this.send(method, path, body);
    if (response.status === 401 && (await this.bearer.renew()))
      response = await this.send(method, path, body);
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (response.ok) {
      if (parsed === undefined) {
        throw new PolicyCliError(
          PolicyCliErrorCode.GATEWAY_UNREACHABLE,
          `${method} ${this.base}${path} answered ${response.status} without JSON: is ${this.base} a Gatehouse gateway?`,
        );
      }
      return parsed as T;
    }
    throw this.refusal(step, response.status, (parsed as ErrorBody | undefined)?.error, method, path);
  }

  private async send(method: string, path: string, body: unknown): Promise<Response> {
    const token = await this.bearer.token();
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await this.fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new PolicyCliError(
        PolicyCliErrorCode.GATEWAY_UNREACHABLE,
        `cannot reach the gateway at ${this.base} (${cause?.code ?? cause?.message ?? (error as Error).message}); check --url`,
      );
    }
  }

  private refusal(
    step: Step,
    status: number,
    error: ErrorBody['error'],
    method: string,
    path: string,
  ): PolicyCliError {
    const said = error?.message ?? `${method} ${path} answered ${status}`;
    switch (status) {
      case 401:
        return new PolicyCliError(
          PolicyCliErrorCode.UNAUTHENTICATED,
          `the gateway refused ${this.bearer.describe} (401: ${said}); ${this.bearer.remedy}`,
        );
      case 403:
        return new PolicyCliError(
          PolicyCliErrorCode.FORBIDDEN,
          `cannot ${step.doing}: ${said} (403). It needs the console role ${step.roles}; ` +
            "ask an admin to map your IdP group (or the CI service account's group) to it in auth.roles",
        );
      case 404:
        return new PolicyCliError(PolicyCliErrorCode.NOT_FOUND, `cannot ${step.doing}: ${said}`);
      case 422:
        return new PolicyCliError(
          PolicyCliErrorCode.POLICY_INVALID,
          `the gateway found problems in the policy: ${said}`,
          error?.problems ?? [],
        );
      default:
        if (status >= 500 || error?.code === undefined) {
          return new PolicyCliError(
            PolicyCliErrorCode.GATEWAY_UNREACHABLE,
            `cannot ${step.doing}: the gateway answered ${status}: ${said}`,
          );
        }
        return new PolicyCliError(PolicyCliErrorCode.REFUSED, `cannot ${step.doing}: ${said} (${status})`);
    }
  }
}
