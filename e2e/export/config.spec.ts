import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '@gatehouse/config';
import { siemSinkFromConfig, SplunkHecSink, SyslogSink, WebhookSink } from '@gatehouse/audit';

/** `export.*` in gatehouse.yaml: bad values stop start-up naming the key; good ones build the sinks. */
describe('export configuration', () => {
  it.each([
    [
      'a syslog SIEM without host',
      'export:\n  siem:\n    soc: { type: syslog, port: 514 }\n',
      /export\.siem\.soc\.host.*syslog needs host/s,
    ],
    [
      'a Splunk SIEM without token',
      'export:\n  siem:\n    s: { type: splunk, url: "https://splunk:8088/services/collector/event" }\n',
      /export\.siem\.s\.token/,
    ],
    [
      'a webhook without secret',
      'export:\n  siem:\n    w: { type: webhook, url: "https://hooks.example.com/x" }\n',
      /export\.siem\.w\.secret/,
    ],
    [
      'S3 without a signing key',
      'export:\n  enabled: true\n  s3: { bucket: b }\n',
      /export\.checkpoints\.signingKey.*Ed25519/s,
    ],
    [
      'a webhook secret shorter than 32 characters',
      'export:\n  siem:\n    w: { type: webhook, url: "https://hooks.example.com/x", secret: short }\n',
      /export\.siem\.w\.secret.*length ≥ 32/s,
    ],
    ['a queue prefix with ":"', 'export:\n  queuePrefix: "a:b"\n', /export\.queuePrefix/],
    [
      'an S3 prefix without a trailing slash',
      'export:\n  s3: { bucket: b, prefix: gatehouse }\n',
      /export\.s3\.prefix/,
    ],
    [
      'a reconciler gap threshold of zero',
      'export:\n  reconcile: { gapAlertSeconds: 0 }\n',
      /export\.reconcile\.gapAlertSeconds/,
    ],
    [
      'a syslog client certificate without its key',
      'export:\n  siem:\n    soc: { type: syslog, host: relay, port: 6514, tls: { certFile: /etc/gh/client.pem } }\n',
      /export\.siem\.soc\.tls\.certFile.*both certFile and keyFile/s,
    ],
    ['an unknown reconciler key', 'export:\n  reconcile: { everySeconds: 60 }\n', /export\.reconcile/],
  ])('refuses %s', (_what, yaml, message) => {
    expect(() => parseConfigText(yaml, {})).toThrow(message);
  });

  it('reconciles every 15 minutes over 48 hours and alerts on a gap older than 15 minutes by default', () => {
    expect(parseConfigText('', {}).config.export.reconcile).toEqual({
      intervalSeconds: 900,
      lookbackHours: 48,
      gapAlertSeconds: 900,
    });
  });

  it('accepts every example of docs/export.md (AWS S3, MinIO, Splunk, a syslog relay, a webhook)', () => {
    const doc = readFileSync(join(__dirname, '../../docs/export.md'), 'utf8');
    const examples = doc.slice(doc.indexOf('\n## Examples'));
    const blocks = [...examples.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    expect(blocks).toHaveLength(5);
    const env = {
      SPLUNK_HEC_TOKEN: 'hec-token',
      GATEHOUSE_CHECKPOINT_KEY: 'a PEM from the environment',
      GATEHOUSE_WEBHOOK_SECRET: 'w'.repeat(64),
    };
    const parsed = blocks.map((yaml) => parseConfigText(yaml, env).config.export);
    expect(parsed.map((e) => [Boolean(e.s3), Object.values(e.siem).map((s) => s.type)])).toEqual([
      [true, []],
      [true, []],
      [false, ['splunk']],
      [false, ['syslog']],
      [false, ['webhook']],
    ]);
    expect(parsed[3]?.siem['soc-syslog']?.tls).toEqual({
      caFile: '/etc/gatehouse/siem-ca.pem',
      certFile: '/etc/gatehouse/siem-client.pem',
      keyFile: '/etc/gatehouse/siem-client.key',
    });
  });

  it('builds the SIEM sink each type names, with secrets from the environment', () => {
    const { config } = parseConfigText(
      [
        'export:',
        '  siem:',
        '    soc: { type: syslog, host: 127.0.0.1, port: 6514, format: cef }',
        '    splunk: { type: splunk, url: "https://splunk:8088/services/collector/event", token: "${HEC}" }',
        '    hook: { type: webhook, url: "https://hooks.example.com/x", secret: "${HOOK}" }',
        '',
      ].join('\n'),
      { HEC: 'hec-token', HOOK: 'a'.repeat(64) },
    );
    const sinks = Object.entries(config.export.siem).map(([name, c]) => siemSinkFromConfig(name, c));
    expect(sinks.map((s) => [s.name, s.constructor])).toEqual([
      ['soc', SyslogSink],
      ['splunk', SplunkHecSink],
      ['hook', WebhookSink],
    ]);
    expect(config.export.siem.splunk?.token).toBe('hec-token');
  });
});
