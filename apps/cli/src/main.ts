#!/usr/bin/env node
import { Command } from 'commander';

import { cliVersion } from './bridge/version';
import { auditCommand } from './commands/audit.command';
import { bridgeCommand } from './commands/bridge.command';
import { devTokenCommand } from './commands/dev-token.command';
import { loginCommand } from './commands/login.command';
import { logoutCommand } from './commands/logout.command';
import { policyCommand } from './commands/policy.command';
import { runtimeWarning } from './runtime';

/** The `gatehouse` command line; each command lives in its own file under `commands/`. */
export function buildProgram(): Command {
  return new Command('gatehouse')
    .description('Gatehouse, the enterprise MCP gateway: command-line tools')
    .version(cliVersion())
    .addCommand(auditCommand())
    .addCommand(bridgeCommand())
    .addCommand(devTokenCommand())
    .addCommand(loginCommand())
    .addCommand(logoutCommand())
    .addCommand(policyCommand());
}

if (require.main === module) {
  const warning = runtimeWarning(process.version);
  if (warning) process.stderr.write(warning);
  buildProgram()
    .parseAsync(process.argv)
    .catch((error: unknown) => {
      process.stderr.write(`gatehouse: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    });
}
