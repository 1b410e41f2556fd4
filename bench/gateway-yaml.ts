import { join } from 'node:path';
import { ALLOW_ALL_POLICY_DIR } from '../e2e/transport/processes';

/**
 * The measured gateway: the echo tool over stdio (and over HTTP when `echoHttpUrl` is given).
 * `auth` is the YAML of the auth section; the transport figures are taken without identity.
 */
export function gatewayYaml(dataDir: string, echoHttpUrl?: string, auth = 'auth: { mode: none }'): string {
  const stdioServer = join(__dirname, 'echo-stdio-server.js');
  return [
    'server: { port: 0, host: 127.0.0.1 }',
    'log: { level: warn }',
    auth,
    // The transport figures are taken with a policy that allows everything (one rule).
    `policy: { dir: ${JSON.stringify(ALLOW_ALL_POLICY_DIR)} }`,
    // Limits the bench never reaches: the calls are measured, not refused.
    'rateLimit: { perUserPerMinute: 100000000, perToolPerMinute: 100000000, inFlightPerUser: 100000 }',
    // DATABASE_URL (the production shape) puts the database outside the measured process; without
    // it the gateway runs its own embedded PGlite, in a worker thread that counts towards its CPU and RSS.
    `dataDir: ${JSON.stringify(dataDir)}`,
    ...(process.env.DATABASE_URL ? [`database: { url: ${JSON.stringify(process.env.DATABASE_URL)} }`] : []),
    'upstreams:',
    '  echo:',
    '    transport: stdio',
    `    command: ${JSON.stringify(process.execPath)}`,
    `    args: [${JSON.stringify(stdioServer)}]`,
    '    sharing: shared',
    ...(echoHttpUrl
      ? // Shared, like the stdio upstream: one upstream session, so both gateway paths do the same work per call.
        [
          '  echo-http:',
          '    transport: http',
          `    url: ${JSON.stringify(echoHttpUrl)}`,
          '    sharing: shared',
        ]
      : []),
    '',
  ].join('\n');
}
