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
import { z } from 'zod';
import {
  AdminAction,
  ApiRoute,
  apiError,
  Caller,
  ok,
  Roles,
  type ApiRouteSpec,
  type ConsoleCaller,
} from '@gatehouse/auth';
import {
  bypassSettingsSchema,
  grantCallsSchema,
  grantDetailSchema,
  grantViewSchema,
  type BypassSettingsView,
} from './api-schemas';
import { BypassError, BypassErrorCode } from './bypass-error';
import { BypassErrorFilter, BypassErrorInterceptor } from './bypass-error.filter';
import { BypassService } from './bypass.service';
import {
  approveBody,
  callsQuery,
  grantId,
  grantParams,
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

const NOT_FOUND = apiError('there is no such grant', 'GRANT_NOT_FOUND');
const TRANSITION = apiError("the step does not apply to the grant's status", 'INVALID_TRANSITION');

/** A step on one grant: the grant after it, or why not. */
function step(
  operationId: string,
  summary: string,
  body: typeof approveBody | typeof revokeBody | typeof reviewBody,
  errors: ApiRouteSpec['errors'] = {},
): ApiRouteSpec {
  return {
    tag: 'bypass',
    operationId,
    summary,
    params: grantParams,
    body,
    responses: { 200: ok('The grant after the step', grantDetailSchema) },
    errors: { ...errors, 404: NOT_FOUND, 409: TRANSITION },
  };
}

/** PATCH and PUT: always refused. */
function refused(operationId: string): ApiRouteSpec {
  return {
    tag: 'bypass',
    operationId,
    summary: 'Always refused: a grant cannot be changed, widened or extended (R51)',
    params: grantParams,
    responses: {},
    errors: {
      405: apiError(
        'a grant cannot be changed, widened or extended; revoke it and open a new one',
        'GRANT_IMMUTABLE',
      ),
    },
  };
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

  /** What the dialog states before anyone presses the button: durations and modes. */
  @Get('settings')
  @Header('cache-control', 'no-store')
  @ApiRoute({
    tag: 'bypass',
    operationId: 'getBypassSettings',
    summary: 'The default and maximum grant duration, the review window, and the mode per upstream',
    responses: { 200: ok('The settings', bypassSettingsSchema) },
  })
  settings(): BypassSettingsView {
    return this.bypass.settingsView();
  }

  /** The console's one button: `{ reason }` is enough. */
  @Post('grants')
  @HttpCode(201)
  @Roles('admin', 'incident-responder')
  @AdminAction('bypass.open', {
    target: () => 'bypass/grants',
    resultTarget: (created) => `bypass/grants/${(created as GrantDetail).id}`,
  })
  @ApiRoute({
    tag: 'bypass',
    operationId: 'openBypassGrant',
    summary:
      "Opens a grant. `{ reason }` alone is the console's one button: every server and tool, for the opener, policy denies only, for the default duration",
    description:
      'A missing or weak reason, a bad glob, servers matching no upstream or a duration over the configured maximum is refused with 400 INVALID_REQUEST, `problems` naming each field.',
    body: openBody,
    responses: {
      201: ok('The grant: active (immediate) or pending-approval (approval-first)', grantDetailSchema),
    },
  })
  open(@Body() body: unknown, @Caller() caller: ConsoleCaller): Promise<GrantDetail> {
    return this.bypass.open(parseRequest(openBody, body, 'body'), caller.principal);
  }

  @Get('grants')
  @Header('cache-control', 'no-store')
  @ApiRoute({
    tag: 'bypass',
    operationId: 'listBypassGrants',
    summary: 'Grants, newest first',
    query: listQuery,
    responses: { 200: ok('The grants', z.array(grantViewSchema)) },
  })
  list(@Query() query: unknown): Promise<GrantView[]> {
    const { status, overdue } = parseRequest(listQuery, query, 'query');
    return this.bypass.list({
      ...(status ? { status } : {}),
      ...(overdue ? { overdue: overdue === 'true' } : {}),
    });
  }

  @Get('grants/:id')
  @Header('cache-control', 'no-store')
  @ApiRoute({
    tag: 'bypass',
    operationId: 'getBypassGrant',
    summary: 'One grant with its history',
    params: grantParams,
    responses: { 200: ok('The grant', grantDetailSchema) },
    errors: { 404: NOT_FOUND },
  })
  get(@Param('id') id: string): Promise<GrantDetail> {
    return this.bypass.get(grantId(id));
  }

  /** Every call made under the grant, from the audit trail. */
  @Get('grants/:id/calls')
  @Header('cache-control', 'no-store')
  @ApiRoute({
    tag: 'bypass',
    operationId: 'listBypassGrantCalls',
    summary: 'Every audit record of a call made under the grant, oldest first (the post-incident review)',
    params: grantParams,
    query: callsQuery,
    responses: { 200: ok('The calls', grantCallsSchema) },
    errors: { 404: NOT_FOUND },
  })
  calls(@Param('id') id: string, @Query() query: unknown): Promise<GrantCalls> {
    const { limit } = parseRequest(callsQuery, query, 'query');
    return this.bypass.calls(grantId(id), limit);
  }

  @Post('grants/:id/approve')
  @HttpCode(200)
  @Roles('admin', 'incident-responder')
  @AdminAction('bypass.approve', { target: grantTarget })
  @ApiRoute(
    step(
      'approveBypassGrant',
      'A second person (never the opener nor a person the grant names in users) approves a pending grant; its window starts now',
      approveBody,
      {
        403: apiError(
          'four eyes: the opener and the people the grant covers may not approve it',
          'SELF_APPROVAL',
        ),
      },
    ),
  )
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
  @ApiRoute(
    step('revokeBypassGrant', 'Ends a pending or active grant now; calls already running finish', revokeBody),
  )
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
  @ApiRoute(
    step(
      'reviewBypassGrant',
      'Signs off the post-hoc review (never the opener nor a person the grant names in users)',
      reviewBody,
      {
        403: apiError(
          'four eyes: the opener and the people the grant covers may not review it',
          'SELF_REVIEW',
        ),
      },
    ),
  )
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
  @ApiRoute(refused('patchBypassGrant'))
  refusePatch(): never {
    throw immutable();
  }

  @Put('grants/:id')
  @ApiRoute(refused('putBypassGrant'))
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
