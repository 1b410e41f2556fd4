import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigText } from '@gatehouse/config';
import { siemSinkFromConfig, SplunkHecSink, SyslogSink, WebhookSink } from '@gatehouse/audit';
import { audit } from '../export-siem/events';

const SYSLOG = 'type: syslog, host: relay, port: 6514';
const SPLUNK = 'type: splunk, url: "https://splunk:8088", token: t';
const WEBHOOK = `type: webhook, url: "https://hooks.example.com/x", secret: ${'s'.repeat(32)}`;

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
    [
      'a syslog facility that is not an RFC 5424 name',
      `export:\n  siem:\n    soc: { ${SYSLOG}, facility: local9 }\n`,
      /export\.siem\.soc\.facility.*must be one of "kern", "user".*"local7"/s,
    ],
    [
      'a private enterprise number of zero',
      `export:\n  siem:\n    soc: { ${SYSLOG}, enterpriseNumber: 0 }\n`,
      /export\.siem\.soc\.enterpriseNumber/,
    ],
    [
      'a syslog message size under 1024 bytes',
      `export:\n  siem:\n    soc: { ${SYSLOG}, maxMessageBytes: 512 }\n`,
      /export\.siem\.soc\.maxMessageBytes.*≥ 1024/s,
    ],
    [
      'a syslog hostname with a space',
      `export:\n  siem:\n    soc: { ${SYSLOG}, hostname: "gw 1" }\n`,
      /export\.siem\.soc\.hostname.*is not 1 to 255 printable ASCII characters without spaces/is,
    ],
    [
      'a HEC channel that is not a GUID',
      `export:\n  siem:\n    s: { ${SPLUNK}, channel: gatehouse }\n`,
      /export\.siem\.s\.channel.*is not a GUID/is,
    ],
    [
      'a HEC index with capitals',
      `export:\n  siem:\n    s: { ${SPLUNK}, index: Security }\n`,
      /export\.siem\.s\.index.*is not a Splunk index name/is,
    ],
    [
      'an empty HEC sourcetype',
      `export:\n  siem:\n    s: { ${SPLUNK}, sourcetype: "" }\n`,
      /export\.siem\.s\.sourcetype/,
    ],
    [
      'a syslog facility on a Splunk SIEM',
      `export:\n  siem:\n    s: { ${SPLUNK}, facility: local4 }\n`,
      /export\.siem\.s\.facility.*applies to type syslog, not splunk/s,
    ],
    [
      'a payload format on a Splunk SIEM',
      `export:\n  siem:\n    s: { ${SPLUNK}, format: cef }\n`,
      /export\.siem\.s\.format.*applies to type syslog, not splunk/s,
    ],
    [
      'a HEC index on a webhook',
      `export:\n  siem:\n    w: { ${WEBHOOK}, index: security }\n`,
      /export\.siem\.w\.index.*applies to type splunk, not webhook/s,
    ],
    [
      'a TLS servername on a webhook (HTTPS checks the URL host)',
      `export:\n  siem:\n    w: { ${WEBHOOK}, tls: { caFile: /etc/gh/ca.pem, servername: hooks } }\n`,
      /export\.siem\.w\.tls\.servername.*url's host/s,
    ],
    [
      'TLS options on a plain-HTTP HEC URL',
      'export:\n  siem:\n    s: { type: splunk, url: "http://splunk:8088", token: t, tls: { caFile: /etc/gh/ca.pem } }\n',
      /export\.siem\.s\.tls.*needs an https url/s,
    ],
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
    expect(parsed[2]?.siem.splunk).toMatchObject({
      index: 'security',
      channel: '0f2b7c0e-8c43-4b55-a4e2-7c7ae0f0d0aa',
      tls: { caFile: '/etc/gatehouse/splunk-ca.pem' },
    });
    expect(parsed[4]?.siem.hook?.tls).toEqual({ caFile: '/etc/gatehouse/internal-ca.pem' });
    expect(parsed[3]?.siem['soc-syslog']?.tls).toEqual({
      caFile: '/etc/gatehouse/siem-ca.pem',
      certFile: '/etc/gatehouse/siem-client.pem',
      keyFile: '/etc/gatehouse/siem-client.key',
    });
  });

  it('accepts the example of docs/siem.md, which sets every SIEM option, and builds its sinks', () => {
    const doc = readFileSync(join(__dirname, '../../docs/siem.md'), 'utf8');
    const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
    const { config } = parseConfigText(yaml, {
      SPLUNK_HEC_TOKEN: 'hec-token',
      GATEHOUSE_WEBHOOK_SECRET: 'w'.repeat(64),
    });
    const keys = Object.values(config.export.siem).flatMap((s) => [
      ...Object.keys(s),
      ...Object.keys(s.tls ?? {}).map((k) => `tls.${k}`),
    ]);
    expect(new Set(keys)).toEqual(
      new Set([
        ...['type', 'host', 'port', 'format', 'facility', 'hostname', 'enterpriseNumber', 'maxMessageBytes'],
        ...['url', 'token', 'index', 'sourcetype', 'source', 'channel', 'secret'],
        ...['tls', 'tls.caFile', 'tls.certFile', 'tls.keyFile'],
      ]),
    );
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

  it('reads every syslog, HEC and webhook option, and hands the HEC ones to the sink', () => {
    const { config } = parseConfigText(
      [
        'export:',
        '  siem:',
        '    soc:',
        '      type: syslog',
        '      host: relay',
        '      port: 6514',
        '      facility: local3',
        '      enterpriseNumber: 99999',
        '      maxMessageBytes: 65536',
        '      hostname: gw-7.example.net',
        '    splunk:',
        '      type: splunk',
        '      url: https://splunk:8088',
        '      token: "${HEC}"',
        '      index: security-audit',
        '      sourcetype: "gatehouse:json"',
        '      source: gw-prod',
        '      channel: 0f2b7c0e-8c43-4b55-a4e2-7c7ae0f0d0aa',
        '      tls: { caFile: /etc/gatehouse/splunk-ca.pem }',
        '    hook:',
        '      type: webhook',
        '      url: https://hooks.example.com/x',
        '      secret: "${HOOK}"',
        '      tls: { caFile: /etc/gatehouse/hook-ca.pem }',
        '    plain: { type: splunk, url: "https://splunk:8088", token: t }',
        '',
      ].join('\n'),
      { HEC: 'hec-token', HOOK: 'a'.repeat(64) },
    );
    const { soc, splunk, hook, plain } = config.export.siem;
    expect(soc).toMatchObject({
      facility: 'local3',
      enterpriseNumber: 99999,
      maxMessageBytes: 65536,
      hostname: 'gw-7.example.net',
    });
    expect(splunk).toMatchObject({
      index: 'security-audit',
      sourcetype: 'gatehouse:json',
      source: 'gw-prod',
      channel: '0f2b7c0e-8c43-4b55-a4e2-7c7ae0f0d0aa',
      tls: { caFile: '/etc/gatehouse/splunk-ca.pem' },
    });
    expect(hook?.tls).toEqual({ caFile: '/etc/gatehouse/hook-ca.pem' });
    expect(
      (siemSinkFromConfig('plain', plain!) as SplunkHecSink).hecEvent(audit({ id: 'r-1' })),
    ).toMatchObject({ source: 'gatehouse', sourcetype: 'gatehouse:audit' });
    expect(
      (siemSinkFromConfig('plain', plain!) as SplunkHecSink).hecEvent(audit({ id: 'r-1' })),
    ).not.toHaveProperty('index');
  });

  it('names a bad key without printing the secret that came from the environment', () => {
    const run = () =>
      parseConfigText(
        'export:\n  siem:\n    w: { type: webhook, url: "https://h.example", secret: "${S}" }\n',
        {
          S: 'too-short-but-secret',
        },
      );
    expect(run).toThrow(/export\.siem\.w\.secret/);
    expect(run).not.toThrow(/too-short-but-secret/);
  });
});
