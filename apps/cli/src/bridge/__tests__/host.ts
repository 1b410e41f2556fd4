import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { JSONRPCMessage } from '@modelcontextprotocol/client';

/** The compiled CLI: the tests drive the real binary, as a host would. */
export const CLI = join(__dirname, '../../../../../dist/apps/cli/src/main.js');

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before these tests`);
}

/** Fast retries so failure tests finish quickly. */
export const FAST_RETRY = [
  '--retries',
  '6',
  '--retry-delay',
  '50',
  '--retry-max-delay',
  '400',
  '--retry-budget',
  '8000',
];

export interface Host {
  client: Client;
  transport: StdioClientTransport;
  /** Everything the host received on the bridge's stdout, in order. */
  received: JSONRPCMessage[];
  stderr(): string;
  close(): Promise<void>;
}

export interface HostOptions {
  args?: string[];
  env?: Record<string, string>;
  client?: ConstructorParameters<typeof Client>[1];
}

/**
 * An agent host: a real SDK v2 Client that starts `gatehouse bridge` as its
 * stdio server, answers sampling requests with "forty-two", and records every
 * message it receives.
 */
export async function startHost(url: string, options: HostOptions = {}): Promise<Host> {
  assertBuilt();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'bridge', '--url', url, ...(options.args ?? [])],
    env: { PATH: process.env.PATH ?? '', ...(options.env ?? {}) },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client(
    { name: 'bridge-test-host', version: '1.0.0' },
    options.client ?? { capabilities: { sampling: {} } },
  );
  if (options.client?.capabilities?.sampling ?? !options.client) {
    client.setRequestHandler('sampling/createMessage', async () => ({
      model: 'test-model',
      role: 'assistant' as const,
      content: { type: 'text' as const, text: 'forty-two' },
    }));
  }
  const received: JSONRPCMessage[] = [];
  await client.connect(transport);
  // Tap after connect, when the Client has installed its own handler.
  const handler = transport.onmessage;
  transport.onmessage = (message) => {
    received.push(message);
    handler?.(message);
  };
  return {
    client,
    transport,
    received,
    stderr: () => stderr,
    close: async () => {
      await client.close().catch(() => undefined);
    },
  };
}

/** Polls until `check` holds; fails the test with `what` if it never does. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
