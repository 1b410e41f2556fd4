#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { Command } from 'commander';

import { auditCommand } from './commands/audit.command';
import { bridgeCommand } from './commands/bridge.command';
import { devTokenCommand } from './commands/dev-token.command';
import { loginCommand } from './commands/login.command';
import { logoutCommand } from './commands/logout.command';
import { policyCommand } from './commands/policy.command';

/** The `gatehouse` command line; each command lives in its own file under `commands/`. */
export function buildProgram(): Command {
  return new Command('gatehouse')
    .description('Gatehouse, the enterprise MCP gateway: command-line tools')
    .version(readVersion())
    .addCommand(auditCommand())
    .addCommand(bridgeCommand())
    .addCommand(devTokenCommand())
    .addCommand(loginCommand())
    .addCommand(logoutCommand())
    .addCommand(policyCommand());
}

/** The version in the nearest package.json named `gatehouse` (the source tree and dist/ differ in depth). */
function readVersion(): string {
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

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((error: unknown) => {
      process.stderr.write(`gatehouse: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    });
}
