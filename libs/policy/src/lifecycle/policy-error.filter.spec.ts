import { Writable } from 'node:stream';
import { Controller, Get, UseFilters, UseInterceptors } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { createLogger, LOGGER } from '@gatehouse/observability';
import { PolicyError, PolicyErrorCode, policyErrorStatus } from './policy-error';
import { PolicyErrorFilter, PolicyErrorInterceptor } from './policy-error.filter';

@Controller('t')
@UseFilters(PolicyErrorFilter)
@UseInterceptors(PolicyErrorInterceptor)
class ThrowingController {
  @Get('refused')
  refused(): never {
    throw new PolicyError(PolicyErrorCode.POLICY_INVALID, 'bad', [
      { file: 'a.yaml', line: 2, column: 3, message: 'unknown key' },
    ]);
  }

  @Get('broken')
  broken(): never {
    throw new Error('connection to the database lost: secret detail');
  }
}

describe('policy API errors', () => {
  let app: NestFastifyApplication;
  const logs: string[] = [];
  let base: string;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    });
    const moduleRef = await Test.createTestingModule({
      controllers: [ThrowingController],
      providers: [{ provide: LOGGER, useValue: createLogger('info', sink) }],
    }).compile();
    app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers a PolicyError as { error: { code, message, problems } } with its status', async () => {
    const res = await fetch(`${base}/t/refused`);
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({
      error: {
        code: 'POLICY_INVALID',
        message: 'bad',
        problems: [{ file: 'a.yaml', line: 2, column: 3, message: 'unknown key' }],
      },
    });
  });

  it('answers anything unexpected with 500 INTERNAL and an errorId that is on the log line with the cause', async () => {
    const res = await fetch(`${base}/t/broken`);
    expect(res.status).toBe(500);
    const { error } = (await res.json()) as { error: { code: string; message: string; errorId: string } };
    expect(error.code).toBe('INTERNAL');
    expect(error.message).not.toContain('secret detail');
    expect(error.errorId).toMatch(/^[0-9a-f-]{36}$/);
    const line = logs.find((l) => l.includes(error.errorId));
    expect(line).toContain('connection to the database lost');
  });

  it.each([
    [PolicyErrorCode.INVALID_REQUEST, 400],
    [PolicyErrorCode.APPROVAL_BY_AUTHOR, 403],
    [PolicyErrorCode.APPROVAL_BY_PROPOSER, 403],
    [PolicyErrorCode.APPROVER_ROLE_REQUIRED, 403],
    [PolicyErrorCode.ROLLBACK_NEEDS_SECOND_PERSON, 403],
    [PolicyErrorCode.VERSION_NOT_FOUND, 404],
    [PolicyErrorCode.INVALID_TRANSITION, 409],
    [PolicyErrorCode.CONCURRENT_ACTIVATION, 409],
    [PolicyErrorCode.POLICY_INVALID, 422],
    [PolicyErrorCode.INTERNAL, 500],
  ])('maps %s to %i', (code, status) => {
    expect(policyErrorStatus(code)).toBe(status);
  });
});
