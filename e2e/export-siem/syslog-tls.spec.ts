import { readFileSync } from 'node:fs';
import { siemSinkFromConfig } from '@gatehouse/audit';
import { parseConfigText } from '@gatehouse/config';
import { SiemSinkErrorCode, SyslogSink } from '../../libs/audit/src/export/sinks';
import { makeTestPki, type TestPki } from '../support/pki';
import { startRsyslog, type Rsyslog } from '../support/rsyslog';
import { batch } from './events';

// The receiver is Debian's rsyslogd with the rsyslog-gnutls netstream driver, demanding client certificates.
describe('syslog sink over TLS to a real rsyslogd', () => {
  let pki: TestPki;
  let otherPki: TestPki;
  let rsyslog: Rsyslog;
  const tlsSink = (ca: string, withClientCert = true): SyslogSink =>
    new SyslogSink({
      name: 'soc-tls',
      host: '127.0.0.1',
      port: rsyslog.port,
      format: 'cef',
      connectTimeoutMs: 5000,
      tls: {
        ca: readFileSync(ca),
        servername: 'localhost',
        ...(withClientCert ? { cert: readFileSync(pki.client.cert), key: readFileSync(pki.client.key) } : {}),
      },
    });

  beforeAll(async () => {
    pki = await makeTestPki();
    otherPki = await makeTestPki();
    rsyslog = await startRsyslog({
      caFile: pki.caCert,
      certFile: pki.server.cert,
      keyFile: pki.server.key,
      requireClientCert: true,
    });
  });
  afterAll(async () => {
    await rsyslog.remove();
    pki.remove();
    otherPki.remove();
  });

  it('delivers over mutual TLS when the receiver is signed by the configured CA', async () => {
    const sink = tlsSink(pki.caCert);
    const events = batch(5);
    await sink.send(events);
    const got = await rsyslog.waitFor(5);
    expect(got.map((line) => /externalId=(\S+)/.exec(line)?.[1])).toEqual(
      events.map((e) => (e.type === 'audit' ? e.record.id : e.alert.id)),
    );
    await sink.close();
  });

  it('delivers over mutual TLS with the sink built from gatehouse.yaml (caFile, certFile, keyFile, servername)', async () => {
    const { config } = parseConfigText(
      [
        'export:',
        '  siem:',
        `    relay: { type: syslog, host: 127.0.0.1, port: ${rsyslog.port}, format: cef, tls: { caFile: ${JSON.stringify(pki.caCert)}, certFile: ${JSON.stringify(pki.client.cert)}, keyFile: ${JSON.stringify(pki.client.key)}, servername: localhost } }`,
        '',
      ].join('\n'),
      {},
    );
    const relay = config.export.siem.relay;
    if (!relay) throw new Error('export.siem.relay not parsed');
    const sink = siemSinkFromConfig('relay', relay);
    const events = batch(3);
    const before = rsyslog.raw().length;
    await sink.send(events);
    const got = (await rsyslog.waitFor(before + 3)).slice(before);
    expect(got.map((line) => /externalId=(\S+)/.exec(line)?.[1])).toEqual(
      events.map((e) => (e.type === 'audit' ? e.record.id : e.alert.id)),
    );
    await sink.close();
  });

  it('fails, instead of counting the batch as sent, when the receiver refuses the connection for lack of a client certificate', async () => {
    const before = rsyslog.raw().length;
    // A generous settle window: rsyslogd drops the connection within milliseconds, even on a busy machine.
    const sink = new SyslogSink({
      name: 'soc-tls',
      host: '127.0.0.1',
      port: rsyslog.port,
      format: 'json',
      settleMs: 2000,
      tls: { ca: readFileSync(pki.caCert), servername: 'localhost' },
    });
    await expect(sink.send(batch(3))).rejects.toMatchObject({ code: SiemSinkErrorCode.TLS, retryable: true });
    await sink.close();
    expect(rsyslog.raw()).toHaveLength(before);
  });

  it('refuses a receiver whose certificate the configured CA did not sign', async () => {
    const sink = tlsSink(otherPki.caCert);
    await expect(sink.send(batch(1))).rejects.toMatchObject({ code: SiemSinkErrorCode.TLS });
    await sink.close();
  });
});
