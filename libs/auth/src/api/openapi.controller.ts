import { Controller, Get, Header } from '@nestjs/common';
import { z } from 'zod';
import { ApiRoute } from './api-route';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi-document';

/** Serves the admin API's OpenAPI document; public, like any API description. */
@Controller('api/v1')
export class OpenApiController {
  private doc: OpenApiDocument | undefined;

  @Get('openapi.json')
  @Header('cache-control', 'no-cache')
  @ApiRoute({
    tag: 'meta',
    operationId: 'getOpenApiDocument',
    summary: 'This document (no sign-in needed)',
    public: true,
    responses: {
      200: { description: 'OpenAPI 3.1', schema: z.looseObject({ openapi: z.literal('3.1.0') }) },
    },
  })
  document(): OpenApiDocument {
    // Built on first use: every controller of the process has declared its routes by then.
    return (this.doc ??= buildOpenApiDocument());
  }
}
