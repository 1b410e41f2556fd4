import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The CLI's version: the nearest package.json named `gatehouse` above this file (the source
 * tree and dist/ differ in depth). The bridge sends it to the gateway on every request so the
 * audit record can name the bridge version a call came through.
 */
export function cliVersion(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'gatehouse' && pkg.version) return pkg.version;
    } catch {
      // No package.json at this level: keep climbing.
    }
  }
  return '0.0.0';
}
