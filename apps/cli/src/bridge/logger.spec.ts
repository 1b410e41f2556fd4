import { Logger } from './logger';

function capture(format: 'json' | 'text', level: 'debug' | 'warn' = 'debug', secrets: string[] = []) {
  const lines: string[] = [];
  const logger = new Logger({ format, level, secrets, write: (line) => lines.push(line) });
  return { logger, lines };
}

describe('Logger', () => {
  it('writes one JSON object per line with level and message', () => {
    const { logger, lines } = capture('json');
    logger.info('bridge ready', { url: 'http://127.0.0.1/mcp' });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.endsWith('\n')).toBe(true);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({
      level: 'info',
      msg: 'bridge ready',
      url: 'http://127.0.0.1/mcp',
    });
  });

  it('writes plain lines in text format', () => {
    const { logger, lines } = capture('text');
    logger.warn('retrying', { attempt: 2 });
    expect(lines[0]).toMatch(/WARN {2}retrying attempt=2\n$/);
  });

  it('drops lines below the level', () => {
    const { logger, lines } = capture('text', 'warn');
    logger.debug('noise');
    logger.info('noise');
    logger.error('kept');
    expect(lines).toHaveLength(1);
  });

  it.each(['json', 'text'] as const)(
    'never writes a configured secret, wherever it appears (%s)',
    (format) => {
      const { logger, lines } = capture(format, 'debug', ['s3cr3t-token']);
      logger.error('failed with Bearer s3cr3t-token in it', {
        err: 'x s3cr3t-token y',
        nested: { v: 's3cr3t-token' },
      });
      expect(lines.join('')).not.toContain('s3cr3t-token');
      expect(lines.join('')).toContain('[REDACTED]');
    },
  );

  it('redacts fields whose names look secret', () => {
    const { logger, lines } = capture('json');
    logger.info('headers', { authorization: 'Bearer abc', apiKey: 'k', cookie: 'c', url: 'u' });
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({
      authorization: '[REDACTED]',
      apiKey: '[REDACTED]',
      cookie: '[REDACTED]',
      url: 'u',
    });
  });

  it('scrubs tokens learnt while running (a refreshed login) from later lines, with the fixed secrets', () => {
    const { logger, lines } = capture('text', 'debug', ['fixed-secret']);
    logger.redact('access-token-1', 'refresh-token-1');
    logger.redact('access-token-2');

    logger.error('failed with access-token-1 and refresh-token-1 and access-token-2 and fixed-secret');

    expect(lines[0]).toContain('failed with [REDACTED] and [REDACTED] and [REDACTED] and [REDACTED]');
  });

  it.each(['json', 'text'] as const)(
    '13.6 R20: never writes a secret-shaped value an upstream or a URI carried (%s)',
    (format) => {
      const { logger, lines } = capture(format);
      logger.warn('direct server failed: postgres://app:bridge-pw-1@db/x', {
        err: "ALTER ROLE app PASSWORD 'bridge-pw-2'",
        uri: 'https://files.example/a?access_token=bridge-tok-3',
        nested: { deep: { tokens: ['bridge-tok-4'] } },
      });
      expect(lines.join('')).not.toMatch(/bridge-pw-1|bridge-pw-2|bridge-tok-3|bridge-tok-4/);
    },
  );
});
