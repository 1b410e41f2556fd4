/**
 * The machine's floor: a bare `node:http` server that answers a tools/call with the echo result
 * and nothing else (no MCP, no framework, no validation). What it spends per request is what any
 * Node HTTP server pays on this machine before doing MCP work, which puts the CPU figures of the
 * real servers in scale. Prints its port on the first stdout line.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const message = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      id: number;
      params: { arguments: { text: string } };
    };
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: message.id,
      result: { content: [{ type: 'text', text: message.params.arguments.text }] },
    });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => process.exit(0));
