import { authMode, type LoadedConfig } from '@gatehouse/config';

/** What the start-up banner names. */
export interface BannerFacts {
  url: string;
  loaded: LoadedConfig;
}

/**
 * The start-up banner for a person at a terminal: where the console is, where MCP clients
 * connect, and on the embedded start whom to sign in as at the development IdP. (Piped or
 * collected output keeps the JSON log line instead.)
 */
export function startupBanner({ url, loaded }: BannerFacts): string {
  const { config } = loaded;
  const mode = authMode(config);
  const rows: Array<[string, string]> = [
    ['Console', `${url}/console`],
    ['MCP', `${url}/mcp`],
  ];
  if (mode === 'dev') {
    rows.push(['Dev IdP', `${url}/dev-idp  (development only, never production)`]);
    rows.push([
      'Sign in as',
      'carol (admin), frank (auditor), erin (incident-responder), dave (policy-approver)',
    ]);
    rows.push(['', 'alice and bob have no console role: they see which roles exist and who grants them']);
  } else if (mode === 'none') {
    rows.push(['Auth', 'OFF (auth.mode: none): every request is anonymous; the console cannot sign in']);
  } else {
    rows.push(['Sign-in', `at ${config.auth.issuer ?? 'the configured IdP'}`]);
  }
  const upstreams = Object.keys(config.upstreams);
  rows.push(['Upstreams', upstreams.length > 0 ? upstreams.join(', ') : 'none configured']);
  rows.push(['Config', loaded.file ?? 'none found: embedded defaults with demo upstreams']);
  rows.push(['Health', `${url}/healthz  ${url}/readyz  ${url}/metrics`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  return `\n  Gatehouse is listening on ${url}\n\n${lines.join('\n')}\n\n  Open the console URL in a browser. Log lines follow as JSON.\n\n`;
}
