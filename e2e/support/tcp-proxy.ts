import { connect, createServer, type Server, type Socket } from 'node:net';

/** A loopback TCP relay the test can cut, stall and restore, to play a database or service outage. */
export interface TcpProxy {
  port: number;
  /** Refuses: drops every connection and closes the port (connection refused). */
  close(): Promise<void>;
  /** Listens again on the same port. */
  reopen(): Promise<void>;
  /**
   * Hangs: connections stay open and new ones are accepted, but nothing is relayed in either
   * direction (a database that stopped answering, a network partition) until {@link resume}.
   */
  stall(): void;
  /** Relays again, including what was held back while stalled. */
  resume(): void;
}

export async function tcpProxy(targetPort: number, host = '127.0.0.1'): Promise<TcpProxy> {
  let server: Server | undefined;
  let stalled = false;
  const pairs = new Set<[Socket, Socket]>();
  const relay = ([client, upstream]: [Socket, Socket]) => {
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const hold = ([client, upstream]: [Socket, Socket]) => {
    client.unpipe(upstream);
    upstream.unpipe(client);
    client.pause();
    upstream.pause();
  };
  const listen = async (port: number) => {
    server = createServer((client) => {
      const pair: [Socket, Socket] = [client, connect(targetPort, host)];
      pairs.add(pair);
      for (const s of pair) {
        s.on('close', () => pairs.delete(pair));
        s.on('error', () => undefined);
      }
      if (stalled) hold(pair);
      else relay(pair);
    });
    await new Promise<void>((r) => server!.listen(port, host, r));
    return (server.address() as { port: number }).port;
  };
  const port = await listen(0);
  return {
    port,
    close: async () => {
      for (const pair of pairs) for (const s of pair) s.destroy();
      if (server?.listening) await new Promise((r) => server!.close(r));
    },
    reopen: async () => {
      await listen(port);
    },
    stall: () => {
      stalled = true;
      for (const pair of pairs) hold(pair);
    },
    resume: () => {
      stalled = false;
      for (const pair of pairs) relay(pair);
    },
  };
}
