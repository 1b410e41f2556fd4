import { Command } from 'commander';

import { gatewayKey } from '../auth/credential-store';
import { LoginError } from '../auth/errors';
import { createGatewayHttp, type GatewayHttp } from '../bridge/http';
import { PolicyApi } from '../policy/api-client';
import { bearerFor } from '../policy/bearer';
import { diff, diffTarget } from '../policy/diff';
import { PolicyCliError, PolicyCliErrorCode, pushExitCode } from '../policy/errors';
import { processIo, type Io } from '../policy/io';
import { push, report } from '../policy/push';
import { runPolicyTestDir } from '../policy/test-run';
import { parseUrl, readPem } from './bridge.command';

interface TestFlags {
  config?: string;
}

interface GatewayFlags {
  url: URL;
  cert?: string;
  key?: string;
  ca?: string;
}

interface PushFlags extends GatewayFlags {
  message: string;
  propose: boolean;
}

/** Adds the options every command that talks to the gateway takes. */
function gatewayOptions(command: Command): Command {
  return command
    .requiredOption('--url <url>', 'the gateway, e.g. https://gatehouse.example.com', parseUrl)
    .option('--cert <file>', 'client certificate (PEM), when the gateway requires mutual TLS')
    .option('--key <file>', 'private key (PEM) of the client certificate')
    .option('--ca <file>', 'CA bundle (PEM) to verify the gateway, instead of the system roots');
}

/** The admin API client for `flags.url`, with the token from $GATEHOUSE_TOKEN or the stored login. */
async function connect(flags: GatewayFlags, io: Io): Promise<{ api: PolicyApi; http: GatewayHttp }> {
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    throw new PolicyCliError(PolicyCliErrorCode.REFUSED, '--cert and --key go together');
  }
  let tls: { cert?: string; key?: string; ca?: string };
  try {
    const cert = readPem(flags.cert, '--cert');
    const key = readPem(flags.key, '--key');
    const ca = readPem(flags.ca, '--ca');
    tls = { ...(cert ? { cert } : {}), ...(key ? { key } : {}), ...(ca ? { ca } : {}) };
  } catch (error) {
    throw new PolicyCliError(PolicyCliErrorCode.REFUSED, (error as Error).message);
  }
  const gateway = gatewayKey(flags.url);
  // The CLI is its own configuration boundary: $GATEHOUSE_TOKEN and XDG_CONFIG_HOME are read here.
  const bearer = await bearerFor(gateway, process.env, (line) => io.err(`${line}\n`));
  const http = createGatewayHttp({ ...tls, connectTimeoutMs: 10_000, headersTimeoutMs: 30_000 });
  return { api: new PolicyApi(gateway, bearer, http.fetch), http };
}

/** A login that cannot give a token (none, expired, revoked) reads like a 401. */
function asCliError(error: unknown): PolicyCliError {
  if (error instanceof PolicyCliError) return error;
  if (error instanceof LoginError)
    return new PolicyCliError(PolicyCliErrorCode.UNAUTHENTICATED, error.message);
  throw error;
}

function pushCommand(io: Io): Command {
  return gatewayOptions(
    new Command('push')
      .description(
        'Check the policy files of <dir> locally, then create a version from them through the admin API ' +
          'and propose it for approval. Token: $GATEHOUSE_TOKEN (a CI service account) or your `gatehouse login`. ' +
          'Exit status: 0 pushed, 1 refused by the gateway, 2 invalid policy.',
      )
      .argument('<dir>', 'the policy folder (every *.yaml / *.yml, recursively; *.test.yaml stay local)')
      .requiredOption('-m, --message <why>', 'why this version exists (kept with the version)')
      .option('--no-propose', 'only create a draft; do not propose it for approval'),
  ).action(async (dir: string, flags: PushFlags) => {
    let http: GatewayHttp | undefined;
    try {
      const connected = await connect(flags, io);
      http = connected.http;
      await push(connected.api, { dir, message: flags.message, propose: flags.propose }, io);
    } catch (error) {
      const failure = asCliError(error);
      report(io, 'push', dir, failure);
      process.exitCode = pushExitCode(failure.code);
    } finally {
      await http?.close();
    }
  });
}

function diffCommand(io: Io): Command {
  return gatewayOptions(
    new Command('diff')
      .description(
        'Show a unified diff between the active version and the policy files of <dir>, or between two ' +
          'stored versions (`diff --url <gw> <from> <to>`). Exit status: 0 equal, 1 different, 2 trouble (as diff).',
      )
      .argument('<dir-or-from>', 'a policy folder, or the version to diff from')
      .argument('[to]', 'the version to diff to (with a version as the first argument)'),
  ).action(async (first: string, second: string | undefined, flags: GatewayFlags) => {
    const args = second === undefined ? [first] : [first, second];
    let http: GatewayHttp | undefined;
    try {
      const target = diffTarget(args);
      const connected = await connect(flags, io);
      http = connected.http;
      process.exitCode = (await diff(connected.api, target, io)) ? 1 : 0;
    } catch (error) {
      report(io, 'diff', args.length === 1 ? first : undefined, asCliError(error));
      process.exitCode = 2;
    } finally {
      await http?.close();
    }
  });
}

function testCommand(io: Io): Command {
  return new Command('test')
    .description(
      'Run the policy test cases (*.test.yaml) of <dir> against its policy, offline. Exit status: 0 every ' +
        'case passes, 1 some case fails, 2 the policy or a test file is invalid.',
    )
    .argument('<dir>', 'the policy folder (every *.yaml / *.yml, recursively)')
    .option(
      '--config <file>',
      "the gateway's configuration, for each upstream's tags, readOnlyTools and sql (classification as the gateway does it)",
    )
    .action(async (dir: string, flags: TestFlags) => {
      process.exitCode = await runPolicyTestDir(
        { dir, ...(flags.config ? { config: flags.config } : {}) },
        io,
      );
    });
}

/** A usage mistake exits 2 (as diff(1)'s trouble), so it never reads as "different" or "failing cases". */
function usageExitsTwo(command: Command): Command {
  return command.exitOverride((error) => {
    process.exit(error.exitCode === 0 ? 0 : 2);
  });
}

/** `gatehouse policy push | test | diff`: policy as code, from a Git repository to the gateway. */
export function policyCommand(io: Io = processIo): Command {
  return new Command('policy')
    .description('Policy as code: test policy files offline, push them as a version, diff versions')
    .addCommand(usageExitsTwo(testCommand(io)))
    .addCommand(usageExitsTwo(pushCommand(io)))
    .addCommand(usageExitsTwo(diffCommand(io)));
}
