import { Global, Module } from '@nestjs/common';
import { AUDIT_OPENAPI, EXPORT_OPENAPI } from '@gatehouse/audit';
import { BYPASS_OPENAPI } from '@gatehouse/bypass';
import { OPENAPI_FRAGMENTS } from '@gatehouse/policy';

/**
 * The parts of the admin API's OpenAPI document written by the libs above policy, for policy's
 * `/api/v1/openapi.json` to merge: each lib describes its own routes with its own limits.
 */
@Global()
@Module({
  providers: [{ provide: OPENAPI_FRAGMENTS, useValue: [AUDIT_OPENAPI, EXPORT_OPENAPI, BYPASS_OPENAPI] }],
  exports: [OPENAPI_FRAGMENTS],
})
export class OpenApiFragmentsModule {}
