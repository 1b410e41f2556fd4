import { INGEST_MAX_CALLS, INGEST_MAX_PARAMS_BYTES } from './contract';
import { parseIngestRequest } from './ingest-body';
import { IngestError, IngestErrorCode } from './ingest-error';

const NOW = new Date('2026-11-24T10:00:00Z');

const call = (extra: Record<string, unknown> = {}) => ({
  id: '0b9c4c1e-5b7a-4d3e-9f6a-2c1d8e7f6a5b',
  server: 'postgres-prod',
  method: 'tools/call',
  params: { name: 'query', arguments: { sql: 'SELECT 1' } },
  startedAt: '2026-11-24T09:59:00.123+01:00',
  durationMs: 12.5,
  status: 'ok',
  ...extra,
});

const body = (calls: unknown[], extra: Record<string, unknown> = {}) => ({
  mode: 'shadow',
  client: { name: 'claude-code', version: '2.1.0' },
  bridgeVersion: '0.1.0',
  calls,
  ...extra,
});

function refusal(value: unknown): IngestError {
  try {
    parseIngestRequest(value, NOW);
  } catch (err) {
    if (err instanceof IngestError) return err;
    throw err;
  }
  throw new Error('accepted');
}

describe('parseIngestRequest', () => {
  it('accepts a well-formed report', () => {
    const parsed = parseIngestRequest(body([call(), call({ status: 'error', errorCode: -32603 })]), NOW);
    expect(parsed.calls).toHaveLength(2);
    expect(parsed.mode).toBe('shadow');
  });

  const cases: Array<[string, unknown, string]> = [
    ['a missing body', undefined, 'body'],
    ['an unknown mode', body([call()], { mode: 'replay' }), 'mode'],
    ['an unknown top-level field', body([call()], { user: 'alice' }), 'body'],
    ['no calls', body([]), 'calls'],
    ['too many calls', body(Array.from({ length: INGEST_MAX_CALLS + 1 }, () => call())), 'calls'],
    ['a call id that is not a UUID', body([call(), call({ id: 'call-1' })]), 'calls[1].id'],
    ['an unknown method', body([call({ method: 'initialize' })]), 'calls[0].method'],
    ['an empty server', body([call({ server: '' })]), 'calls[0].server'],
    ['a server that is not an upstream name', body([call({ server: 'My Server' })]), 'calls[0].server'],
    ['the aggregated endpoint as server', body([call({ server: '*' })]), 'calls[0].server'],
    ['params that are not an object', body([call({ params: [1] })]), 'calls[0].params'],
    ['a tools/call without a name', body([call({ params: { arguments: {} } })]), 'calls[0].params.name'],
    [
      'tools/call arguments that are not an object',
      body([call({ params: { name: 'q', arguments: 'x' } })]),
      'calls[0].params.arguments',
    ],
    [
      'a resources/read without a uri',
      body([call({ method: 'resources/read', params: {} })]),
      'calls[0].params.uri',
    ],
    [
      'params larger than the cap',
      body([call({ params: { name: 'q', arguments: { sql: 'x'.repeat(INGEST_MAX_PARAMS_BYTES) } } })]),
      'calls[0].params',
    ],
    [
      'params nested too deep',
      body([
        call({ params: { name: 'q', arguments: JSON.parse(`${'{"a":'.repeat(70)}1${'}'.repeat(70)}`) } }),
      ]),
      'calls[0].params',
    ],
    ['a time without an offset', body([call({ startedAt: '2026-11-24T09:00:00' })]), 'calls[0].startedAt'],
    ['a time that is not a time', body([call({ startedAt: 'yesterday' })]), 'calls[0].startedAt'],
    [
      'a start more than 60 s ahead',
      body([call({ startedAt: '2026-11-24T10:01:01Z' })]),
      'calls[0].startedAt',
    ],
    [
      'a start older than 7 days (the default)',
      body([call({ startedAt: '2026-11-17T09:59:59Z' })]),
      'calls[0].startedAt',
    ],
    [
      'a call that would end more than 60 s ahead (its outcome record is startedAt + durationMs)',
      body([call({ startedAt: '2026-11-24T10:00:30Z', durationMs: 3_600_000 })]),
      'calls[0].durationMs',
    ],
    ['a negative duration', body([call({ durationMs: -1 })]), 'calls[0].durationMs'],
    ['an unknown status', body([call({ status: 'maybe' })]), 'calls[0].status'],
    ['an error without a code', body([call({ status: 'error' })]), 'calls[0].errorCode'],
    ['an error code on a success', body([call({ errorCode: -32000 })]), 'calls[0].errorCode'],
    ['a fractional response size', body([call({ responseBytes: 1.5 })]), 'calls[0].responseBytes'],
    ['an unknown call field', body([call({ user: 'mallory' })]), 'calls[0]'],
    ['a client that is not an object', body([call()], { client: 'x' }), 'client'],
    [
      'a client name over 200 characters',
      body([call()], { client: { name: 'x'.repeat(201) } }),
      'client.name',
    ],
  ];
  it.each(cases.map(([what, value, path]) => [what, path, value] as const))(
    'refuses %s, naming %s',
    (_what, path, value) => {
      const err = refusal(value);
      expect(err.code).toBe(IngestErrorCode.INVALID_REQUEST);
      expect(err.issues.map((i) => i.path)).toContain(path);
      expect(err.message).toContain(path);
    },
  );

  it('accepts a start just inside both time bounds', () => {
    expect(() =>
      parseIngestRequest(
        body([
          call({ startedAt: '2026-11-24T10:00:59Z', durationMs: 0 }),
          call({ startedAt: '2026-11-17T10:00:01Z' }),
        ]),
        NOW,
      ),
    ).not.toThrow();
  });

  it('13.8: takes the configured window and refuses servers the gateway has no upstream for', () => {
    const limits = { maxAgeMs: 2 * 3_600_000, maxFutureMs: 0, servers: new Set(['postgres-prod']) };
    const err = (() => {
      try {
        parseIngestRequest(
          body([
            call({ startedAt: '2026-11-24T07:59:59Z' }),
            call({ startedAt: '2026-11-24T10:00:01Z' }),
            call({ server: 'legacy-crm', startedAt: '2026-11-24T09:00:00Z' }),
          ]),
          NOW,
          limits,
        );
      } catch (e) {
        return e as IngestError;
      }
      throw new Error('accepted');
    })();
    expect(err.issues).toEqual([
      { path: 'calls[0].startedAt', message: expect.stringMatching(/older than 2 hours/) },
      { path: 'calls[1].startedAt', message: expect.stringMatching(/in the future/) },
      { path: 'calls[2].server', message: expect.stringMatching(/no upstream named "legacy-crm"/) },
    ]);
    expect(() =>
      parseIngestRequest(body([call({ startedAt: '2026-11-24T08:00:01Z', durationMs: 0 })]), NOW, limits),
    ).not.toThrow();
  });
});
