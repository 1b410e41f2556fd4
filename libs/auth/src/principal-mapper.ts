import { Inject, Injectable } from '@nestjs/common';
import { authMode, CONSOLE_ROLES, GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';
import type { CertificateIdentity, ConsoleRole, Principal } from './principal';

/**
 * Keycloak names the user behind a client's service account `service-account-<client id>` and
 * puts that in `preferred_username` (its `sub` is the user's id); no person can hold that name.
 */
const KEYCLOAK_SERVICE_ACCOUNT = 'service-account-';

/** The development IdP's groups carry the role names themselves. */
const DEV_ROLE_GROUPS: Record<ConsoleRole, string[]> = {
  admin: ['admin'],
  'policy-approver': ['policy-approver'],
  'incident-responder': ['incident-responder'],
  auditor: ['auditor'],
};

/**
 * Builds a {@link Principal} from validated token claims (or ID token / introspection claims):
 * the configured claim paths, the kind (person or service account) and the console roles.
 */
@Injectable()
export class PrincipalMapper {
  private readonly roleGroups: Record<ConsoleRole, string[]>;

  constructor(@Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig) {
    const configured = config.auth.roles;
    const anyConfigured = CONSOLE_ROLES.some((r) => configured[r].length > 0);
    this.roleGroups = !anyConfigured && authMode(config) === 'dev' ? DEV_ROLE_GROUPS : configured;
  }

  fromClaims(
    claims: Record<string, unknown>,
    opts: { certificate?: CertificateIdentity; expiresAt?: number } = {},
  ): Principal {
    const { claims: paths, serviceAccounts } = this.config.auth;
    const clientId = text(claims.client_id) ?? text(claims.azp) ?? text(claims.appid);
    const subject = text(claims.sub) ?? clientId ?? '';
    // Only the client's own token is a service account's: being issued to a listed client is not
    // enough, since a person signing in through that client gets a token with the same azp (and
    // must not get the account's groups). The token itself has to say it is the client's.
    const service =
      clientId !== undefined &&
      (subject === clientId ||
        claims.gty === 'client-credentials' ||
        claims.idtyp === 'app' ||
        subject === serviceAccounts[clientId]?.subject ||
        (serviceAccounts[clientId] !== undefined &&
          claims.preferred_username === `${KEYCLOAK_SERVICE_ACCOUNT}${clientId}`));
    const groups = [
      ...new Set([
        ...list(readPath(claims, paths.groups)),
        ...(service && clientId ? (serviceAccounts[clientId]?.groups ?? []) : []),
      ]),
    ];
    const roles = CONSOLE_ROLES.filter((role) => this.roleGroups[role].some((g) => groups.includes(g)));
    const principal: Principal = {
      kind: service ? 'service' : 'user',
      issuer: text(claims.iss) ?? '',
      subject,
      groups,
      roles,
      scopes: scopesOf(claims),
      expiresAt: opts.expiresAt ?? (typeof claims.exp === 'number' ? claims.exp * 1000 : Date.now()),
    };
    const name = text(readPath(claims, paths.name));
    const email = text(readPath(claims, paths.email));
    if (name !== undefined) principal.name = name;
    if (email !== undefined) principal.email = email;
    if (clientId !== undefined) principal.clientId = clientId;
    if (opts.certificate) principal.certificate = opts.certificate;
    const cnf = claims.cnf as Record<string, unknown> | undefined;
    const bound = text(cnf?.['x5t#S256']);
    if (bound !== undefined) principal.boundCertificate = bound;
    return principal;
  }
}

/** `scope` (space-separated, RFC 9068) or `scp` (a list or a string, Entra ID and Okta). */
export function scopesOf(claims: Record<string, unknown>): string[] {
  const raw = claims.scope ?? claims.scp;
  if (typeof raw === 'string') return raw.split(' ').filter(Boolean);
  return list(raw);
}

/** Reads a dotted claim path (`realm_access.roles`); a claim whose own name has dots wins. */
export function readPath(claims: Record<string, unknown>, path: string): unknown {
  if (path in claims) return claims[path];
  let node: unknown = claims;
  for (const part of path.split('.')) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function list(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value === 'string' && value.length > 0) return [value];
  return [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
