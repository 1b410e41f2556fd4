import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { approveDevice } from '../../../../../e2e/support/dev-idp';
import { assertBuilt, CLI } from '../../bridge/__tests__/host';
import type { StoredLogin } from '../credential-store';

/** A running `gatehouse` command (the compiled binary), with its output as it arrives. */
export interface CliRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stderr, waiting for more output as needed. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit status once the process is gone. */
  exit: Promise<number | null>;
}

/** Runs `gatehouse <args>` with a clean environment plus `env` (XDG_CONFIG_HOME, above all). */
export function runCli(args: string[], env: Record<string, string>): CliRun {
  assertBuilt();
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    for (const listener of listeners) listener();
  });
  const exit = new Promise<number | null>((resolve) => child.once('close', (status) => resolve(status)));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exit,
    waitFor: (pattern, timeoutMs = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(stderr);
          if (!match) return;
          cleanup();
          resolve(match);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no ${String(pattern)} on stderr within ${timeoutMs} ms; got:\n${stderr}`));
        }, timeoutMs);
        const onExit = () => {
          check();
          cleanup();
          reject(new Error(`the command exited without printing ${String(pattern)}; stderr:\n${stderr}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('close', onExit);
        };
        listeners.add(check);
        child.once('close', onExit);
        check();
      }),
  };
}

/** The link the device flow prints that carries the user code. */
export const COMPLETE_LINK = /Or open this link, which carries the code:\s+(\S+)/;

/** `gatehouse login --url <url>` with the device flow, approved as `user` the way a person would. */
export async function deviceLogin(
  url: string,
  user: string,
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const run = runCli(['login', '--url', url, ...args], env);
  const [, link] = await run.waitFor(COMPLETE_LINK);
  await approveDevice(link as string, user);
  const status = await run.exit;
  return { status, stdout: run.stdout(), stderr: run.stderr() };
}

/** Path of the credentials file under an `XDG_CONFIG_HOME`. */
export function credentialsPath(xdg: string): string {
  return join(xdg, 'gatehouse', 'credentials.json');
}

/** The stored logins under an `XDG_CONFIG_HOME`, read as any program would. */
export function storedLogins(xdg: string): Record<string, StoredLogin> {
  return (JSON.parse(readFileSync(credentialsPath(xdg), 'utf8')) as { logins: Record<string, StoredLogin> })
    .logins;
}

export function fileMode(path: string): number {
  return statSync(path).mode & 0o777;
}
