import { Controller, Get, Header } from '@nestjs/common';
import { OPENAPI_DOCUMENT } from './openapi';

/** Serves the admin API's OpenAPI document; public, like any API description. */
@Controller('api/v1')
export class OpenApiController {
  @Get('openapi.json')
  @Header('cache-control', 'no-cache')
  document(): typeof OPENAPI_DOCUMENT {
    return OPENAPI_DOCUMENT;
  }
}
