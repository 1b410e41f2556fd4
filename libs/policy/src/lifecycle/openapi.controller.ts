import { Controller, Get, Header, Inject, Optional } from '@nestjs/common';
import { OPENAPI_FRAGMENTS, openApiDocument, type OpenApiFragment } from './openapi';

/** Serves the admin API's OpenAPI document; public, like any API description. */
@Controller('api/v1')
export class OpenApiController {
  private readonly doc: ReturnType<typeof openApiDocument>;

  constructor(@Optional() @Inject(OPENAPI_FRAGMENTS) fragments?: OpenApiFragment[]) {
    this.doc = openApiDocument(fragments ?? []);
  }

  @Get('openapi.json')
  @Header('cache-control', 'no-cache')
  document(): ReturnType<typeof openApiDocument> {
    return this.doc;
  }
}
