/**
 * The echo tool over stdio, as the gateway's upstream: `node dist/bench/echo-stdio-server.js`.
 * It exits when its stdin closes, so it never outlives the gateway that spawned it.
 */
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { createEchoServer } from './echo-server';

const handle = serveStdio(() => createEchoServer());
process.stdin.on('end', () => {
  handle.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
