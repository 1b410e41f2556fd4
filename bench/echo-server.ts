import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

/** Name of the one tool every bench target serves. */
export const ECHO_TOOL = 'echo';

/**
 * The upstream under test: one `echo` tool that returns its `text` argument. It does as little
 * as a real tool can, so what the bench measures is the transport and the gateway, not the tool.
 */
export function createEchoServer(): McpServer {
  const server = new McpServer({ name: 'gatehouse-bench-echo', version: '1.0.0' });
  server.registerTool(
    ECHO_TOOL,
    { description: 'Returns its text argument', inputSchema: z.object({ text: z.string() }) },
    ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
}
