import { DataSource } from 'typeorm';
import type { RunningGateway } from '../../../apps/gateway/src/bootstrap';
import { startDevIdp, type StartedDevIdp } from '../../support/dev-idp';
import { gatewayWith } from '../../transport/helpers';
import { freePort } from '../../transport/processes';

/**
 * A gateway for the console's browser journeys: the real gateway (in this process, so a test can
 * reach its Nest app and database) on a scratch database of the real Postgres, serving the BUILT
 * console from dist/web, with the real development IdP (its own process, from dist/) as issuer.
 * `npm run build` first: the IdP and the console both come from dist/.
 */

/** auth.roles as an organisation maps its IdP groups (the dev IdP's groups carry the role names). */
export const ROLE_GROUPS = {
  admin: ['admin'],
  'policy-approver': ['policy-approver'],
  'incident-responder': ['incident-responder'],
  auditor: ['auditor'],
} as const;

/** The demo people and what they hold (libs/auth/src/dev-idp/users.ts). */
export const PEOPLE = {
  alice: [],
  bob: [],
  carol: ['admin'],
  dave: ['policy-approver'],
  erin: ['incident-responder'],
  frank: ['auditor'],
} as const;
export type Person = keyof typeof PEOPLE;

export interface ConsoleGatewayOptions {
  /** More top-level YAML (upstreams, policy, bypass, ...); not `auth:`, which this sets. */
  yaml?: string;
  /** More keys under `auth.console`, e.g. `idleTimeoutSeconds: 5`. */
  consoleKeys?: string[];
  /** More keys under `auth`, one per line. */
  authKeys?: string[];
  /** More `server:` keys, as for gatewayWith. */
  serverKeys?: string[];
  env?: NodeJS.ProcessEnv;
}

export type ConsoleGateway = RunningGateway & {
  logs: string[];
  databaseUrl: string;
  idp: StartedDevIdp;
  db: DataSource;
};

export async function startConsoleGateway(options: ConsoleGatewayOptions = {}): Promise<ConsoleGateway> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const idp = await startDevIdp({ resource: `${base}/mcp`, consoleBase: base });
  const roles = Object.entries(ROLE_GROUPS)
    .map(([role, groups]) => `    ${role}: [${groups.join(', ')}]\n`)
    .join('');
  const consoleKeys = options.consoleKeys ?? [];
  const auth =
    `auth:\n  issuer: ${idp.issuer}\n  audience: ${base}/mcp\n  roles:\n${roles}` +
    (options.authKeys ?? []).map((k) => `  ${k}\n`).join('') +
    (consoleKeys.length > 0 ? `  console:\n${consoleKeys.map((k) => `    ${k}\n`).join('')}` : '');
  let gw;
  try {
    gw = await gatewayWith(
      `${auth}${options.yaml ?? ''}`,
      { PORT: String(port), ...options.env },
      options.serverKeys,
    );
  } catch (err) {
    await idp.close();
    throw err;
  }
  const close = gw.close;
  return Object.assign(gw, {
    idp,
    db: gw.app.get(DataSource),
    close: async () => {
      await close();
      await idp.close();
    },
  });
}
