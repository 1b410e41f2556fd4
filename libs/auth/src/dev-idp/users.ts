/** A person the development IdP can sign in as (no password: the login page lists them). */
export interface SeededUser {
  username: string;
  name: string;
  email: string;
  groups: string[];
}

/** The development IdP's people, one per console role plus two everyday users. */
export const SEEDED_USERS: readonly SeededUser[] = [
  { username: 'alice', name: 'Alice Anders', email: 'alice@example.com', groups: ['data-platform'] },
  { username: 'bob', name: 'Bob Brown', email: 'bob@example.com', groups: ['support'] },
  { username: 'carol', name: 'Carol Chen', email: 'carol@example.com', groups: ['admin'] },
  { username: 'dave', name: 'Dave Diaz', email: 'dave@example.com', groups: ['policy-approver'] },
  { username: 'erin', name: 'Erin Evans', email: 'erin@example.com', groups: ['incident-responder'] },
  { username: 'frank', name: 'Frank Fischer', email: 'frank@example.com', groups: ['auditor'] },
];

export function findSeededUser(username: string): SeededUser | undefined {
  return SEEDED_USERS.find((user) => user.username === username);
}

/** The development-only grant `gatehouse dev-token` uses: a user's access token without a browser. */
export const DEV_USER_GRANT = 'urn:gatehouse:params:oauth:grant-type:dev-user';

/** Client ids the development IdP registers. */
export const DEV_IDP_CLIENTS = {
  cli: 'gatehouse-cli',
  console: 'gatehouse-console',
  serviceAccount: 'ci-bot',
  introspection: 'gatehouse-introspection',
  opaque: 'opaque-client',
  devToken: 'gatehouse-dev-token',
} as const;

/** The scope of the gateway resource (RFC 8707) that access tokens can carry. */
export const MCP_SCOPE = 'mcp';

/** Secrets of the confidential clients: random on every start, never in the repository. */
export interface DevIdpSecrets {
  'ci-bot': string;
  'gatehouse-introspection': string;
  'opaque-client': string;
  'gatehouse-dev-token': string;
}
