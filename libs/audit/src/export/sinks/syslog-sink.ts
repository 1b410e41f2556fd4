import { hostname as machineName } from 'node:os';
import { isIP, connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { SiemSinkError, SiemSinkErrorCode } from './siem-sink-error';
import { formatSyslog, frameOctetCounted, type SyslogMessageOptions } from './syslog-message';
import type { SiemEvent, SiemSink } from './types';

/** TLS to the receiver. The receiver's certificate is always verified (`rejectUnauthorized` is not an option). */
export interface SyslogTlsOptions {
  /** PEM of the CA(s) that signed the receiver's certificate; Node's bundled roots when absent. */
  ca?: string | Buffer;
  /** PEM client certificate and key, for receivers that require mutual TLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Name to check the receiver's certificate against (and SNI); defaults to `host`. */
  servername?: string;
}

/** A syslog destination (`export.siem.<name>` with `type: syslog`). */
export interface SyslogSinkOptions extends Omit<SyslogMessageOptions, 'hostname'> {
  name: string;
  host: string;
  port: number;
  /** Plain TCP when absent. */
  tls?: SyslogTlsOptions;
  /** HOSTNAME in each message; defaults to this machine's name. */
  hostname?: string;
  /** Bound on TCP connect plus TLS handshake; default 5 s. */
  connectTimeoutMs?: number;
  /** Bound on the kernel taking a batch (a receiver that stops reading fills the buffers); default 10 s. */
  writeTimeoutMs?: number;
  /**
   * How long a new connection must stay open before the first batch goes on it; default 250 ms.
   * A receiver that refuses us after accepting (a TLS 1.3 server rejecting our client
   * certificate, rsyslog over its session limit) closes at once, and without this wait the first
   * batch would be written into a socket about to close and count as sent.
   */
  settleMs?: number;
}

/** One open connection and whether the receiver has gone since (closed, reset, errored). */
interface Connection {
  socket: Socket;
  lost: Error | null;
}

const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ETIMEDOUT',
]);

/**
 * Sends events as RFC 5424 messages with octet-counting framing (RFC 6587 §3.4.1) over one
 * persistent TCP or TLS connection, reconnecting when it is gone.
 *
 * `send` resolves only when every frame of the batch was handed to the kernel (the `write`
 * callback) and the connection had not been closed, reset or errored by then; otherwise it
 * throws and the relay re-sends the whole batch on a new connection. Syslog has no
 * acknowledgement, so a receiver that dies after the kernel took the bytes but before it read
 * them loses them without the sender ever knowing: at-least-once rests on the relay re-sending
 * on any error and on the receiver's own durability, and the record id in every message lets the
 * SIEM drop the repeats.
 */
export class SyslogSink implements SiemSink {
  readonly name: string;
  private readonly message: SyslogMessageOptions;
  private connection: Connection | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly options: SyslogSinkOptions) {
    this.name = options.name;
    if (!options.host || !Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
      throw new SiemSinkError(
        SiemSinkErrorCode.INVALID_OPTIONS,
        options.name,
        `needs a host and a port between 1 and 65535 (got ${options.host}:${options.port})`,
        false,
      );
    }
    this.message = { ...options, hostname: options.hostname ?? machineName() };
  }

  /** Batches are sent one after another so frames of two batches never share a failure. */
  send(events: readonly SiemEvent[]): Promise<void> {
    const run = this.queue.then(() => this.deliver(events));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.queue;
    const connection = this.connection;
    this.connection = null;
    if (!connection) return;
    await new Promise<void>((done) => {
      const timer = setTimeout(() => {
        connection.socket.destroy();
        done();
      }, this.options.connectTimeoutMs ?? 5000);
      connection.socket.once('close', () => {
        clearTimeout(timer);
        done();
      });
      connection.socket.end();
    });
  }

  private async deliver(events: readonly SiemEvent[]): Promise<void> {
    if (events.length === 0) return;
    const data = Buffer.concat(events.map((e) => frameOctetCounted(formatSyslog(e, this.message))));
    const connection = await this.open();
    try {
      await this.write(connection, data);
      // A FIN or RST the receiver already sent is only seen once its event has run: let it run.
      await new Promise((next) => setImmediate(next));
      if (connection.lost) throw this.lostError(connection.lost);
    } catch (err) {
      connection.socket.destroy();
      if (this.connection === connection) this.connection = null;
      throw err;
    }
  }

  private lostError(cause: Error): SiemSinkError {
    return new SiemSinkError(
      SiemSinkErrorCode.CONNECTION_LOST,
      this.name,
      `the connection to ${this.target()} was lost while sending (${cause.message}); the batch will be re-sent`,
      true,
      undefined,
      { cause },
    );
  }

  private target(): string {
    return `${this.options.tls ? 'tls' : 'tcp'}://${this.options.host}:${this.options.port}`;
  }

  private async open(): Promise<Connection> {
    const current = this.connection;
    if (current && !current.lost && current.socket.writable) return current;
    current?.socket.destroy();
    this.connection = null;
    const tls = this.options.tls;
    const socket = tls
      ? tlsConnect({
          host: this.options.host,
          port: this.options.port,
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          // SNI must not carry an IP address (RFC 6066); Node then checks the certificate against the host IP.
          servername: tls.servername ?? (isIP(this.options.host) ? undefined : this.options.host),
          rejectUnauthorized: true,
        })
      : tcpConnect({ host: this.options.host, port: this.options.port });
    const connection: Connection = { socket, lost: null };
    socket.on('error', (err) => (connection.lost ??= err));
    socket.on('end', () => (connection.lost ??= new Error('the receiver closed the connection')));
    socket.on('close', () => (connection.lost ??= new Error('the connection closed')));
    // Syslog receivers do not talk back; whatever arrives is read and dropped so it cannot pile up.
    socket.on('data', () => undefined);
    await new Promise<void>((ok, fail) => {
      const timeoutMs = this.options.connectTimeoutMs ?? 5000;
      const timer = setTimeout(() => {
        socket.destroy();
        fail(
          new SiemSinkError(
            SiemSinkErrorCode.TIMEOUT,
            this.name,
            `no connection to ${this.target()} within ${timeoutMs} ms; check that the receiver is up and reachable`,
            true,
          ),
        );
      }, timeoutMs);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        ok();
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        fail(this.connectError(err));
      });
    });
    socket.setKeepAlive(true, 30_000);
    socket.setNoDelay(true);
    await this.settle(connection);
    this.connection = connection;
    return connection;
  }

  /** Waits `settleMs` on a new connection and fails if the receiver dropped it meanwhile. */
  private async settle(connection: Connection): Promise<void> {
    const settleMs = this.options.settleMs ?? 250;
    if (settleMs > 0 && !connection.lost) {
      await new Promise<void>((done) => {
        const timer = setTimeout(done, settleMs);
        connection.socket.once('close', () => {
          clearTimeout(timer);
          done();
        });
      });
    }
    if (!connection.lost) return;
    connection.socket.destroy();
    throw new SiemSinkError(
      this.options.tls ? SiemSinkErrorCode.TLS : SiemSinkErrorCode.CONNECTION_LOST,
      this.name,
      `${this.target()} closed the connection right after accepting it (${connection.lost.message}); ${
        this.options.tls
          ? 'it probably refused our client certificate: check tls.cert, tls.key and the CA the receiver trusts'
          : 'it may be over its session limit or refusing this address'
      }`,
      true,
      undefined,
      { cause: connection.lost },
    );
  }

  private connectError(err: NodeJS.ErrnoException): SiemSinkError {
    const network = err.code !== undefined && NETWORK_ERRORS.has(err.code);
    if (this.options.tls && !network) {
      return new SiemSinkError(
        SiemSinkErrorCode.TLS,
        this.name,
        `TLS with ${this.target()} failed (${err.code ?? err.message}); check the CA, the receiver's certificate name and any client certificate`,
        true,
        undefined,
        { cause: err },
      );
    }
    return new SiemSinkError(
      SiemSinkErrorCode.UNREACHABLE,
      this.name,
      `cannot connect to ${this.target()} (${err.code ?? err.message}); check that the receiver is up`,
      true,
      undefined,
      { cause: err },
    );
  }

  private write(connection: Connection, data: Buffer): Promise<void> {
    return new Promise<void>((ok, fail) => {
      const timeoutMs = this.options.writeTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        fail(
          new SiemSinkError(
            SiemSinkErrorCode.TIMEOUT,
            this.name,
            `${this.target()} did not take ${data.length} bytes within ${timeoutMs} ms; the receiver is stuck or too slow`,
            true,
          ),
        );
        connection.socket.destroy();
      }, timeoutMs);
      connection.socket.write(data, (err) => {
        clearTimeout(timer);
        if (err) fail(this.lostError(err));
        else ok();
      });
    });
  }
}
