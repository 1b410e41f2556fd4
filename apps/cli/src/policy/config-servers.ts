import { readFileSync } from 'node:fs';

import { ConfigError, parseConfigText, type UpstreamConfig } from '@gatehouse/config';

import { PolicyCliError, PolicyCliErrorCode } from './errors';

/** What classification needs of one upstream: as the gateway reads it from `upstreams.<name>`. */
export type ServerFacts = Pick<UpstreamConfig, 'tags' | 'readOnlyTools' | 'sql'>;

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
/** Stands in for secrets the offline run never uses; a URL, so `url: ${X}` still validates. */
const PLACEHOLDER = 'http://unset.invalid/';

/**
 * The upstreams of a gateway configuration file, read through the gateway's own loader, so tags,
 * `readOnlyTools` and `sql` mean in `policy test` exactly what they mean in the gateway.
 *
 * Secrets are not needed offline and CI often has none: every `${NAME}` reference gets a placeholder
 * rather than the environment's value, and the gateway's environment overrides (PORT, DATABASE_URL,
 * …) are not applied, because none of them can change a classification.
 */
export function serversFromConfig(file: string): Record<string, ServerFacts> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PolicyCliError(
      PolicyCliErrorCode.CONFIG_INVALID,
      `--config: cannot read ${file}: ${(error as Error).message}`,
    );
  }
  const env: Record<string, string> = {};
  for (const [, name] of text.matchAll(ENV_REF)) env[name as string] = PLACEHOLDER;
  let upstreams: Record<string, UpstreamConfig>;
  try {
    upstreams = parseConfigText(text, env, file).config.upstreams;
  } catch (error) {
    if (error instanceof ConfigError)
      throw new PolicyCliError(PolicyCliErrorCode.CONFIG_INVALID, error.message);
    throw error;
  }
  return Object.fromEntries(
    Object.entries(upstreams).map(([name, u]) => [
      name,
      { tags: u.tags, readOnlyTools: u.readOnlyTools, sql: u.sql },
    ]),
  );
}
