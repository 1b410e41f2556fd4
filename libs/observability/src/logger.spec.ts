import { Writable } from 'node:stream';
import { createLogger, type Logger } from './logger';

/** A logger writing into memory, so each test reads exactly the lines pino produced. */
function capture(level = 'debug'): {
  logger: Logger;
  lines: string[];
  records: () => Array<Record<string, unknown>>;
} {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger(level, sink);
  return {
    logger,
    lines,
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  it('emits one JSON object per line with level, ISO time, service and message', () => {
    const { logger, lines, records } = capture('info');
    logger.info({ server: 'everything' }, 'upstream connected');
    logger.warn('second line');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line.endsWith('\n')).toBe(true);
      expect(line.trimEnd().includes('\n')).toBe(false);
    }
    const [first, second] = records();
    expect(first).toMatchObject({
      level: 30,
      service: 'gatehouse',
      server: 'everything',
      msg: 'upstream connected',
    });
    expect(new Date(String(first?.time)).toISOString()).toBe(first?.time);
    expect(second).toMatchObject({ level: 40, msg: 'second line' });
  });

  it('drops lines below the configured level', () => {
    const { logger, records } = capture('warn');
    logger.info('not written');
    logger.debug('not written either');
    logger.error('written');
    expect(records().map((r) => r.msg)).toEqual(['written']);
  });

  it('redacts the authorization and cookie headers of a request and keeps the others', () => {
    const { logger, lines, records } = capture();
    logger.info(
      {
        req: {
          method: 'POST',
          headers: {
            authorization: 'Bearer eyJhbGciOi.secret-jwt',
            cookie: 'gh_session=cookie-secret',
            'proxy-authorization': 'Basic cHJveHktc2VjcmV0',
            accept: 'application/json',
          },
        },
        res: { headers: { 'set-cookie': 'gh_session=set-cookie-secret' } },
      },
      'request',
    );
    const req = records()[0]?.req as { headers: Record<string, string> };
    const res = records()[0]?.res as { headers: Record<string, string> };
    expect(req.headers).toEqual({
      authorization: '[redacted]',
      cookie: '[redacted]',
      'proxy-authorization': '[redacted]',
      accept: 'application/json',
    });
    expect(res.headers['set-cookie']).toBe('[redacted]');
    const raw = lines.join('');
    for (const secret of ['secret-jwt', 'cookie-secret', 'cHJveHktc2VjcmV0', 'set-cookie-secret']) {
      expect(raw).not.toContain(secret);
    }
  });

  it('redacts token, password, apiKey and other secret fields one level down', () => {
    const { logger, lines, records } = capture();
    logger.info(
      {
        upstream: {
          name: 'github',
          token: 'tok-123',
          password: 'pw-456',
          apiKey: 'key-789',
          secret: 'sec-000',
          clientSecret: 'cs-111',
          accessToken: 'at-222',
          refreshToken: 'rt-333',
        },
        headers: { authorization: 'Bearer hdr-444', cookie: 'c=hdr-555', 'user-agent': 'test' },
      },
      'upstream configured',
    );
    const record = records()[0] as { upstream: Record<string, string>; headers: Record<string, string> };
    expect(record.upstream).toEqual({
      name: 'github',
      token: '[redacted]',
      password: '[redacted]',
      apiKey: '[redacted]',
      secret: '[redacted]',
      clientSecret: '[redacted]',
      accessToken: '[redacted]',
      refreshToken: '[redacted]',
    });
    expect(record.headers).toEqual({
      authorization: '[redacted]',
      cookie: '[redacted]',
      'user-agent': 'test',
    });
    const raw = lines.join('');
    for (const secret of [
      'tok-123',
      'pw-456',
      'key-789',
      'sec-000',
      'cs-111',
      'at-222',
      'rt-333',
      'hdr-444',
      'hdr-555',
    ]) {
      expect(raw).not.toContain(secret);
    }
  });

  it('does not alter the object it was given while redacting', () => {
    const { logger } = capture();
    const config = { upstream: { token: 'kept-in-memory' } };
    logger.info(config, 'config');
    expect(config.upstream.token).toBe('kept-in-memory');
  });

  it('writes an error passed alone under err with type, message and stack', () => {
    const { logger, records } = capture();
    logger.error(new Error('upstream exploded'));
    const record = records()[0] as { err: { type: string; message: string; stack: string }; msg: string };
    expect(record.err.type).toBe('Error');
    expect(record.err.message).toBe('upstream exploded');
    expect(record.err.stack).toMatch(/^Error: upstream exploded\n\s+at /);
    expect(record.msg).toBe('upstream exploded');
  });

  it('writes an error passed as err beside other fields, with its stack and own properties', () => {
    const { logger, records } = capture();
    const err = Object.assign(new TypeError('bad frame'), { code: 'FRAME_BAD' });
    logger.error({ err, errorId: 'abc123' }, 'unexpected error in the call pipeline');
    const record = records()[0] as {
      err: { type: string; message: string; stack: string; code: string };
      errorId: string;
      msg: string;
    };
    expect(record).toMatchObject({ errorId: 'abc123', msg: 'unexpected error in the call pipeline' });
    expect(record.err).toMatchObject({ type: 'TypeError', message: 'bad frame', code: 'FRAME_BAD' });
    expect(record.err.stack).toContain('TypeError: bad frame');
  });
});

describe('redaction depth', () => {
  it('redacts secret-named fields at the top level and two levels down, and API-key headers', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger('info', sink);
    logger.info(
      {
        token: 'top-secret-1',
        a: { b: { password: 'top-secret-2', token: 'top-secret-3' } },
        args: { api_key: 'top-secret-4', authorization: 'top-secret-5' },
        headers: { Cookie: 'top-secret-6' },
        req: { headers: { 'x-api-key': 'top-secret-7' } },
      },
      'deep',
    );
    expect(lines.join('')).not.toMatch(/top-secret/);
  });
});

describe('13.6 R20: secrets in free text and at any depth', () => {
  it('13.6 R20: a secret in the message, an error, a resource URI, stderr text or deep under a secret-named key never reaches a line', () => {
    const { logger, lines } = capture();
    const err = new Error('connect failed: postgres://app:err-pw-1@db:5432/x');
    logger.error(
      {
        err,
        tool: 'https://files.example/r.pdf?access_token=uri-tok-2',
        stderr: 'FATAL: password authentication failed; PGPASSWORD=stderr-pw-3',
        a: { b: { c: { d: { apiKey: 'deep-key-4', credentials: ['deep-arr-5'] } } } },
        config: { tokens: { primary: 'obj-tok-6' } },
      },
      'upstream said Bearer msg-tok-7abc while calling',
    );
    logger.warn(new Error("ALTER ROLE app PASSWORD 'alone-pw-8' failed"));
    const raw = lines.join('');
    for (const secret of [
      'err-pw-1',
      'uri-tok-2',
      'stderr-pw-3',
      'deep-key-4',
      'deep-arr-5',
      'obj-tok-6',
      'msg-tok-7abc',
      'alone-pw-8',
    ]) {
      expect(raw).not.toContain(secret);
    }
    expect(raw).toContain('upstream said Bearer [redacted] while calling');
  });

  it('13.6 R20: a huge field is cut and marked, so one line stays bounded', () => {
    const { logger, records } = capture();
    logger.info({ stderr: 'x'.repeat(2_000_000) }, 'big');
    const stderr = records()[0]?.stderr as string;
    expect(stderr.length).toBeLessThan(20_000);
    expect(stderr).toMatch(/…\[truncated: \d+ more characters not scanned or stored\]$/);
  });
});
