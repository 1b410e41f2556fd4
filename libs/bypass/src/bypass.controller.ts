import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Param,
  Patch,
  Post,
  Put,
  Query,
  UseFilters,
  UseInterceptors,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AdminAction, Caller, Roles, type ConsoleCaller } from '@gatehouse/auth';
import { BypassError, BypassErrorCode } from './bypass-error';
import { BypassErrorFilter, BypassErrorInterceptor } from './bypass-error.filter';
import { BypassService } from './bypass.service';
import {
  approveBody,
  callsQuery,
  grantId,
  listQuery,
  openBody,
  parseRequest,
  reviewBody,
  revokeBody,
} from './dto';
import type { GrantCalls, GrantDetail, GrantView } from './views';

/** `bypass/grants/<id>` as the path names it. */
function grantTarget(req: FastifyRequest): string {
  return `bypass/grants/${(req.params as Record<string, string>).id}`;
}

/**
 * The break-glass API (issue 7). Opening, approving and revoking need `incident-responder` or
 * `admin`; signing off a review also `auditor`; reading needs any of them. Four eyes is checked by
 * {@link BypassService}: the opener can neither approve nor review their own grant.
 *
 * Every write is an admin action (`bypass.<step>`): its attempt is committed to the audit trail
 * before the step runs (503 `AUDIT_UNAVAILABLE` and no change if it cannot be), and its end follows.
 */
@Controller('api/v1/bypass')
@UseFilters(BypassErrorFilter)
@UseInterceptors(BypassErrorInterceptor)
@Roles('admin', 'incident-responder', 'auditor')
export class BypassController {
  constructor(private readonly bypass: BypassService) {}

  /** The console's one button: `{ reason }` is enough. */
  @Post('grants')
  @HttpCode(201)
  @Roles('admin', 'incident-responder')
  @AdminAction('bypass.open', {
    target: () => 'bypass/grants',
    resultTarget: (created) => `bypass/grants/${(created as GrantDetail).id}`,
  })
  open(@Body() body: unknown, @Caller() caller: ConsoleCaller): Promise<GrantDetail> {
    return this.bypass.open(parseRequest(openBody, body, 'body'), caller.principal);
  }

  @Get('grants')
  @Header('cache-control', 'no-store')
  list(@Query() query: unknown): Promise<GrantView[]> {
    const { status, overdue } = parseRequest(listQuery, query, 'query');
    return this.bypass.list({
      ...(status ? { status } : {}),
      ...(overdue ? { overdue: overdue === 'true' } : {}),
    });
  }

  @Get('grants/:id')
  @Header('cache-control', 'no-store')
  get(@Param('id') id: string): Promise<GrantDetail> {
    return this.bypass.get(grantId(id));
  }

  /** Every call made under the grant, from the audit trail. */
  @Get('grants/:id/calls')
  @Header('cache-control', 'no-store')
  calls(@Param('id') id: string, @Query() query: unknown): Promise<GrantCalls> {
    const { limit } = parseRequest(callsQuery, query, 'query');
    return this.bypass.calls(grantId(id), limit);
  }

  @Post('grants/:id/approve')
  @HttpCode(200)
  @Roles('admin', 'incident-responder')
  @AdminAction('bypass.approve', { target: grantTarget })
  approve(
    @Param('id') id: string,
    @Body() body: unknown,
    @Caller() caller: ConsoleCaller,
  ): Promise<GrantDetail> {
    const { comment } = parseRequest(approveBody, body, 'body');
    return this.bypass.approve(grantId(id), caller.principal, comment);
  }

  @Post('grants/:id/revoke')
  @HttpCode(200)
  @Roles('admin', 'incident-responder')
  @AdminAction('bypass.revoke', { target: grantTarget })
  revoke(
    @Param('id') id: string,
    @Body() body: unknown,
    @Caller() caller: ConsoleCaller,
  ): Promise<GrantDetail> {
    const { reason } = parseRequest(revokeBody, body, 'body');
    return this.bypass.revoke(grantId(id), caller.principal, reason);
  }

  @Post('grants/:id/review')
  @HttpCode(200)
  @Roles('admin', 'incident-responder', 'auditor')
  @AdminAction('bypass.review', { target: grantTarget })
  review(
    @Param('id') id: string,
    @Body() body: unknown,
    @Caller() caller: ConsoleCaller,
  ): Promise<GrantDetail> {
    const { note } = parseRequest(reviewBody, body, 'body');
    return this.bypass.review(grantId(id), caller.principal, note);
  }

  /** No grant can be edited, widened or extended (R51): PATCH and PUT are refused with the way forward. */
  @Patch('grants/:id')
  refusePatch(): never {
    throw immutable();
  }

  @Put('grants/:id')
  refusePut(): never {
    throw immutable();
  }
}

function immutable(): BypassError {
  return new BypassError(
    BypassErrorCode.GRANT_IMMUTABLE,
    'a bypass grant cannot be changed, widened or extended; revoke it if needed and open a new grant',
  );
}
