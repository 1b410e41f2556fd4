import { Inject, Injectable } from '@nestjs/common';
import { authMode, GATEHOUSE_CONFIG, type GatehouseConfig } from '@gatehouse/config';

/** The addresses identity depends on; in the embedded start they exist only once the server listens. */
export interface ResolvedUrls {
  /** Where clients reach the gateway, e.g. `https://gatehouse.example.com` (no trailing slash). */
  base: string;
  /** The gateway's resource URI (RFC 8707): what tokens must carry in `aud`. */
  resource: string;
  /** The IdP's issuer: configured, or the embedded development IdP under `<base>/dev-idp`. */
  issuer: string;
  /** RFC 9728 metadata for the `/mcp` resource. */
  resourceMetadata: string;
}

export const DEV_IDP_PATH = '/dev-idp';

/**
 * Resolves the gateway's public base URL: `server.publicUrl` when configured, otherwise the
 * address the server actually listened on (port 0 picks one), reported by the bootstrap.
 */
@Injectable()
export class GatewayUrls {
  private resolved: ResolvedUrls | undefined;
  private readonly waiting: Promise<ResolvedUrls>;
  private settle!: (urls: ResolvedUrls) => void;

  constructor(@Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig) {
    this.waiting = new Promise((resolve) => (this.settle = resolve));
    if (config.server.publicUrl) this.listening(config.server.publicUrl);
  }

  /** Called once the server listens, with the URL it listens on; publicUrl, when set, wins. */
  listening(listenUrl: string): void {
    if (this.resolved) return;
    const base = (this.config.server.publicUrl ?? listenUrl).replace(/\/+$/, '');
    const resource = this.config.auth.audience ?? `${base}/mcp`;
    const mode = authMode(this.config);
    const issuer =
      mode === 'oidc' ? (this.config.auth.issuer ?? '') : mode === 'dev' ? `${base}${DEV_IDP_PATH}` : '';
    this.resolved = {
      base,
      resource,
      issuer,
      resourceMetadata: `${base}/.well-known/oauth-protected-resource/mcp`,
    };
    this.settle(this.resolved);
  }

  ready(): Promise<ResolvedUrls> {
    return this.waiting;
  }

  /** The URLs when already known (every request after listen), else undefined. */
  get now(): ResolvedUrls | undefined {
    return this.resolved;
  }
}
