import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { devUserToken, serviceToken, type DevIdpEndpoint } from '../support/dev-idp';
import { SEED_POLICY } from '@gatehouse/policy';
export { SEED_POLICY };

/** auth.roles as an organisation would map its IdP groups (the dev IdP's groups carry the role names). */
export const ROLES = `  roles:
    admin: [admin]
    policy-approver: [policy-approver]
    incident-responder: [incident-responder]
    auditor: [auditor]
`;

/** The seed's policy with the support rule narrowed to reads. */
export const SEED_POLICY_READ_ONLY_SUPPORT = SEED_POLICY.replace("action: ['*']", 'action: read');

export interface ApiAnswer {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON shapes
  json: any;
  headers: Headers;
}

/** One admin API request. */
export async function api(
  base: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<ApiAnswer> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    redirect: 'manual',
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

/** Bearer tokens of the dev IdP's people (and the ci-bot service account), fetched once each. */
export class Tokens {
  private readonly cache = new Map<string, Promise<string>>();

  constructor(private readonly idp: DevIdpEndpoint) {}

  async as(user: string): Promise<Record<string, string>> {
    let token = this.cache.get(user);
    if (token === undefined) {
      token = user === 'ci-bot' ? serviceToken(this.idp, 'ci-bot') : devUserToken(this.idp, user);
      this.cache.set(user, token);
    }
    return { authorization: `Bearer ${await token}` };
  }
}

/** A client of the policy API acting as one user. */
export function policyApi(base: string, tokens: Tokens) {
  const post = async (user: string, path: string, body: unknown = {}) =>
    api(base, `/api/v1/policy${path}`, { method: 'POST', headers: await tokens.as(user), body });
  return {
    get: async (user: string, path: string) =>
      api(base, `/api/v1/policy${path}`, { headers: await tokens.as(user) }),
    post,
    draft: (user: string, files: Record<string, string>, message = 'a change') =>
      post(user, '/versions', {
        message,
        files: Object.entries(files).map(([path, text]) => ({ path, text })),
      }),
    step: (user: string, number: number, step: string, comment?: string) =>
      post(user, `/versions/${number}/${step}`, comment === undefined ? {} : { comment }),
  };
}

/** A temporary policy directory with these files (paths may have folders). */
export function policyDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

/** Polls `probe` until it returns something defined, or fails after `ms`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  ms: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
