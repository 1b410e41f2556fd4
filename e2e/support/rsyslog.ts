import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../transport/processes';

/** TLS for the receiver's listener (Debian's `rsyslog-gnutls` netstream driver). */
export interface RsyslogTls {
  /** PEM files: the CA that signed the client certificates, the receiver's certificate and key. */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Demand a client certificate signed by `caFile` (mutual TLS). */
  requireClientCert?: boolean;
}

/** What rsyslog parsed out of one message (its own RFC 5424 parser, not ours). */
export interface ParsedSyslog {
  pri: number;
  facility: number;
  severity: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  structuredData: string;
  msg: string;
}

/** A private `rsyslogd` for one test file: its own config, port, pid file and output files. */
export interface Rsyslog {
  port: number;
  dir: string;
  /** Each message exactly as received (the octet-counting frame removed by rsyslog), in order. */
  raw(): string[];
  /** Each message as rsyslog's RFC 5424 parser split it. */
  parsed(): ParsedSyslog[];
  /** Polls the output until `count` messages arrived (or throws after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<string[]>;
  /** Stops the daemon (SIGTERM, waits for it to exit): the "receiver down" scenario. */
  stop(): Promise<void>;
  /** Starts it again on the same port, appending to the same files. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  remove(): Promise<void>;
}

const RSYSLOGD = '/usr/sbin/rsyslogd';

/** Whether Debian's rsyslog is installed (`.ci/run` installs it). */
export function rsyslogInstalled(): boolean {
  return existsSync(RSYSLOGD);
}

/**
 * Starts `rsyslogd -n -f <conf> -i <pidfile>` with one `imtcp` listener on a free port (octet
 * counting is on by default in imtcp), plain or TLS. Messages are written twice: `%rawmsg%` to
 * `raw.log` (one per line: our payloads escape their line breaks) and rsyslog's parsed fields as
 * JSON to `parsed.log`.
 */
export async function startRsyslog(tls?: RsyslogTls): Promise<Rsyslog> {
  if (!rsyslogInstalled()) {
    throw new Error(`${RSYSLOGD} is missing: apt-get install -y rsyslog rsyslog-gnutls (.ci/run does this)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rsyslog-'));
  const port = await freePort();
  const rawFile = join(dir, 'raw.log');
  const parsedFile = join(dir, 'parsed.log');
  const pidFile = join(dir, 'rsyslogd.pid');
  const conf = join(dir, 'rsyslog.conf');
  const driver = tls
    ? ` streamDriver.name="gtls" streamDriver.mode="1"` +
      ` streamDriver.authMode="${tls.requireClientCert ? 'x509/certvalid' : 'anon'}"` +
      ` streamDriver.CAFile="${tls.caFile}" streamDriver.CertFile="${tls.certFile}" streamDriver.KeyFile="${tls.keyFile}"`
    : '';
  writeFileSync(
    conf,
    `global(workDirectory="${dir}" maxMessageSize="256k"${
      tls
        ? ` defaultNetstreamDriverCAFile="${tls.caFile}" defaultNetstreamDriverCertFile="${tls.certFile}" defaultNetstreamDriverKeyFile="${tls.keyFile}"`
        : ''
    })
module(load="imtcp" maxSessions="100")
input(type="imtcp" port="${port}" address="127.0.0.1" ruleset="gatehouse"${driver})
template(name="raw" type="string" string="%rawmsg%\\n")
template(name="parsed" type="list" option.jsonf="on") {
  property(outname="pri" name="pri" format="jsonf" datatype="number")
  property(outname="facility" name="syslogfacility" format="jsonf" datatype="number")
  property(outname="severity" name="syslogseverity" format="jsonf" datatype="number")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="appName" name="app-name" format="jsonf")
  property(outname="procId" name="procid" format="jsonf")
  property(outname="msgId" name="msgid" format="jsonf")
  property(outname="structuredData" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
ruleset(name="gatehouse") {
  action(type="omfile" file="${rawFile}" template="raw" flushOnTXEnd="on")
  action(type="omfile" file="${parsedFile}" template="parsed" flushOnTXEnd="on")
}
`,
  );
  let child: ChildProcess | null = null;
  const output: string[] = [];
  const lines = (file: string): string[] =>
    existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [];

  const start = async (): Promise<void> => {
    const proc = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', pidFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    proc.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    const deadline = Date.now() + 15_000;
    while (!(await listening(port))) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`rsyslogd did not listen on ${port}: ${output.join('')}`);
      }
      await sleep(50);
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((done) => proc.once('exit', () => done()));
    proc.kill('SIGTERM');
    // rsyslogd exits within a second of SIGTERM; a stuck one is killed after 10 s.
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    port,
    dir,
    raw: () => lines(rawFile),
    parsed: () => lines(parsedFile).map((l) => JSON.parse(l) as ParsedSyslog),
    waitFor: async (count, timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const got = lines(rawFile);
        if (got.length >= count) return got;
        if (Date.now() > deadline) {
          throw new Error(`rsyslogd wrote ${got.length} of ${count} messages: ${output.join('')}`);
        }
        await sleep(50);
      }
    },
    stop,
    start,
    remove: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
