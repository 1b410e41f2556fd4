import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { z } from 'zod';
import { AdminAction } from '../admin-audit';
import { Authenticated, Roles } from '../console/console.guard';
import { ApiRoute, apiError, declaredRoutes, isoTime, ok } from './api-route';
import { buildOpenApiDocument } from './openapi-document';

const thing = z.object({ id: z.string(), at: isoTime }).meta({ id: 'SpecThing' });
const thingBody = z.strictObject({ name: z.string().min(1).max(10) }).meta({ id: 'SpecThingBody' });

/** Answers what its declaration says, or not (`/drift`), to see the check at work. */
@Controller('api/v1/spec-things')
class ThingController {
  @Get('good')
  @ApiRoute({ tag: 'spec', operationId: 'good', summary: 'Good', responses: { 200: ok('A thing', thing) } })
  good() {
    return { id: 'a', at: new Date(0) };
  }

  @Get('drift')
  @ApiRoute({ tag: 'spec', operationId: 'drift', summary: 'Drift', responses: { 200: ok('A thing', thing) } })
  drift() {
    return { id: 42 };
  }
}

/** Never served: its metadata is what the document reads. */
@Controller('api/v1/spec-guarded')
@Roles('auditor')
class GuardedController {
  @Get(':id')
  @ApiRoute({
    tag: 'spec',
    operationId: 'readGuarded',
    summary: 'Read one',
    params: z.object({ id: z.string() }),
    responses: { 200: ok('A thing', thing) },
    errors: { 404: apiError('no such thing', 'THING_NOT_FOUND') },
  })
  read(@Param('id') id: string) {
    return { id, at: new Date(0) };
  }

  @Post()
  @HttpCode(201)
  @Roles('admin')
  @AdminAction('spec.create')
  @ApiRoute({
    tag: 'spec',
    operationId: 'createGuarded',
    summary: 'Create one',
    body: thingBody,
    responses: { 201: ok('The thing', thing) },
  })
  create(@Body() body: unknown) {
    return body;
  }
}

@Controller('api/v1/spec-me')
class SignedInController {
  @Get()
  @Authenticated()
  @ApiRoute({ tag: 'spec', operationId: 'whoami', summary: 'Me', responses: { 200: ok('Me', thing) } })
  me() {
    return { id: 'me', at: new Date(0) };
  }
}

describe('@ApiRoute', () => {
  const ours = () =>
    declaredRoutes().filter((r) =>
      [ThingController, GuardedController, SignedInController].includes(r.controller as never),
    );

  describe('answers checked against their schema', () => {
    let app: NestFastifyApplication;
    let url: string;
    const env = process.env.NODE_ENV;
    const get = (path: string) => fetch(`${url}${path}`);

    beforeAll(async () => {
      const module = await Test.createTestingModule({ controllers: [ThingController] }).compile();
      app = module.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
      await app.listen(0, '127.0.0.1');
      url = await app.getUrl();
    });
    afterAll(async () => {
      process.env.NODE_ENV = env;
      await app?.close();
    });

    it('lets an answer through that matches (times as the JSON sends them)', async () => {
      const res = await get('/api/v1/spec-things/good');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ id: 'a', at: '1970-01-01T00:00:00.000Z' });
    });

    it('fails an answer that drifted from its declaration outside production, and not in production', async () => {
      process.env.NODE_ENV = 'test';
      expect((await get('/api/v1/spec-things/drift')).status).toBe(500);
      process.env.NODE_ENV = 'production';
      const res = await get('/api/v1/spec-things/drift');
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ id: 42 });
    });
  });

  describe('the document', () => {
    type Op = {
      summary: string;
      'x-roles': string[];
      security?: unknown[];
      parameters?: Array<{ name: string; in: string; required: boolean }>;
      requestBody?: { required: boolean; content: Record<string, { schema: unknown }> };
      responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
    };
    const doc = () =>
      buildOpenApiDocument(ours()) as unknown as { paths: Record<string, Record<string, Op>> };

    it('reads the roles from @Roles (handler over controller) and names them in the summary', () => {
      const paths = doc().paths;
      expect(paths['/api/v1/spec-guarded/{id}']?.get?.['x-roles']).toEqual(['auditor']);
      expect(paths['/api/v1/spec-guarded']?.post?.['x-roles']).toEqual(['admin']);
      expect(paths['/api/v1/spec-guarded']?.post?.summary).toBe('Create one (roles: admin)');
      expect(paths['/api/v1/spec-me']?.get?.['x-roles']).toEqual([]);
    });

    it('adds the refusals the metadata implies to the declared ones, each with its codes', () => {
      const paths = doc().paths;
      const read = paths['/api/v1/spec-guarded/{id}']?.get;
      expect(Object.keys(read?.responses ?? {})).toEqual(['200', '400', '401', '403', '404', '500']);
      expect(JSON.stringify(read?.responses['404'])).toContain('"enum":["THING_NOT_FOUND"]');
      const create = paths['/api/v1/spec-guarded']?.post;
      expect(Object.keys(create?.responses ?? {})).toEqual(['201', '400', '401', '403', '500', '503']);
      // A write behind the guard: role and CSRF refusals.
      expect(JSON.stringify(create?.responses['403'])).toContain(
        '"enum":["ROLE_REQUIRED","CSRF_TOKEN_MISSING","CSRF_TOKEN_INVALID","CROSS_SITE_REQUEST"]',
      );
      expect(create?.responses['503']?.description).toContain('AUDIT_UNAVAILABLE');
      // Any signed-in caller: 401 but no role refusal.
      expect(Object.keys(paths['/api/v1/spec-me']?.get?.responses ?? {})).toEqual(['200', '401', '500']);
      // Not behind the guard at all: neither.
      expect(Object.keys(paths['/api/v1/spec-things/good']?.get?.responses ?? {})).toEqual(['200', '500']);
    });

    it('states the request schemas as parameters and body, the answers as named components', () => {
      const full = buildOpenApiDocument(ours());
      const paths = full.paths as unknown as Record<string, Record<string, Op>>;
      expect(paths['/api/v1/spec-guarded/{id}']?.get?.parameters).toEqual([
        { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
      ]);
      const create = paths['/api/v1/spec-guarded']?.post;
      expect(create?.requestBody?.required).toBe(true);
      expect(create?.requestBody?.content['application/json']?.schema).toEqual({
        $ref: '#/components/schemas/SpecThingBody',
      });
      expect(full.components.schemas.SpecThingBody).toMatchObject({
        properties: { name: { type: 'string', minLength: 1, maxLength: 10 } },
        additionalProperties: false,
      });
      expect(full.components.schemas.SpecThing).toMatchObject({
        properties: { at: { type: 'string', format: 'date-time' } },
      });
      expect(JSON.stringify(full)).not.toContain('$defs');
    });

    it('is the same document whatever order the routes were declared in', () => {
      expect(JSON.stringify(buildOpenApiDocument([...ours()].reverse()))).toBe(
        JSON.stringify(buildOpenApiDocument(ours())),
      );
    });
  });
});
