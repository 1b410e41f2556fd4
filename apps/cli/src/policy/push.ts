import { parsePolicy } from '@gatehouse/policy';

import type { PolicyApi } from './api-client';
import { PolicyCliError, PolicyCliErrorCode } from './errors';
import type { Io } from './io';
import { problemLine, readPolicyDir } from './policy-dir';

export interface PushOptions {
  dir: string;
  message: string;
  /** Propose the new draft for approval right away (the default; `--no-propose` keeps a draft). */
  propose: boolean;
}

/** What was pushed: the version's number and status, and its address in the admin API. */
export interface Pushed {
  number: number;
  status: string;
  url: string;
}

/**
 * Checks the policy files of `dir` locally (a policy with any problem is never sent), creates a
 * draft version from them through the admin API and, unless told not to, proposes it. The test
 * cases (`*.test.yaml`) stay local: the gateway never runs them.
 */
export async function push(api: PolicyApi, options: PushOptions, io: Io): Promise<Pushed> {
  const local = await readPolicyDir(options.dir);
  if (local.policy.length === 0) {
    throw new PolicyCliError(
      PolicyCliErrorCode.POLICY_INVALID,
      `${options.dir} has no policy file (*.yaml or *.yml other than *.test.yaml); nothing pushed`,
    );
  }
  const parsed = parsePolicy(local.policy);
  if (!parsed.ok) {
    throw new PolicyCliError(
      PolicyCliErrorCode.POLICY_INVALID,
      `the policy in ${options.dir} has ${count(parsed.problems.length, 'problem')}; nothing pushed`,
      parsed.problems,
    );
  }
  const draft = await api.createDraft(local.policy, options.message);
  const url = api.versionUrl(draft.number);
  if (!options.propose) {
    io.out(`Created draft version ${draft.number}: ${url}\n`);
    io.err(`It stays a draft until proposed (POST ${url}/propose).\n`);
    return { number: draft.number, status: draft.status, url };
  }
  let proposed;
  try {
    proposed = await api.propose(draft.number);
  } catch (error) {
    if (error instanceof PolicyCliError) {
      throw new PolicyCliError(
        error.code,
        `draft version ${draft.number} was created (${url}) but could not be proposed: ${error.message}`,
        error.problems,
      );
    }
    throw error;
  }
  io.out(`Proposed version ${proposed.number}: ${url}\n`);
  io.err(
    `Another person with the policy-approver or admin role approves it (POST ${url}/approve), then it can be activated.\n`,
  );
  return { number: proposed.number, status: proposed.status, url };
}

/** `1 problem`, `3 problems`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** Prints a failure: its problems one per line as `<dir>/<file>:line:column: message`, then the message. */
export function report(io: Io, command: string, dir: string | undefined, error: PolicyCliError): void {
  for (const problem of error.problems) {
    // The gateway names files as pushed (relative to the policy folder); print them as on this disk.
    io.err(
      `${dir !== undefined ? problemLine(dir, problem) : `${problem.file}:${problem.line}:${problem.column}: ${problem.message}`}\n`,
    );
  }
  io.err(`gatehouse policy ${command}: ${error.message}\n`);
}
