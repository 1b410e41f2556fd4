import { createHash } from 'node:crypto';
import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Param,
  Post,
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
import { ActivePolicy } from '../active/active-policy';
import {
  activePolicySchema,
  policyDiffSchema,
  policyVersionDetailSchema,
  policyVersionSummarySchema,
} from './api-schemas';
import {
  commentBody,
  createDraftBody,
  diffQuery,
  parseRequest,
  reasonBody,
  versionNumber,
  versionParams,
} from './dto';
import { PolicyErrorFilter, PolicyErrorInterceptor } from './policy-error.filter';
import { PolicyLifecycle } from './policy-lifecycle.service';
import type { ActivePolicyView, PolicyDiff, PolicyVersionDetail, PolicyVersionSummary } from './views';

/** `policy/versions/<number>` as the path names it (even when it is not a valid number). */
function versionTarget(req: FastifyRequest): string {
  return `policy/versions/${(req.params as Record<string, string>).number}`;
}

/**
 * What the trail keeps of a new draft: its message and each file's path, size and SHA-256 (the
 * texts themselves are in the version; a rejected upload is identified by its hashes).
 */
function draftDetails(req: FastifyRequest): Record<string, unknown> {
  const body = (req.body ?? {}) as { message?: unknown; files?: unknown };
  const files = Array.isArray(body.files) ? (body.files as unknown[]) : [];
  return {
    ...(typeof body.message === 'string' ? { message: body.message } : {}),
    files: files.map((f) => {
      const { path, text } = (f ?? {}) as { path?: unknown; text?: unknown };
      return {
        path: typeof path === 'string' ? path : null,
        ...(typeof text === 'string'
          ? { bytes: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') }
          : {}),
      };
    }),
  };
}

const NOT_FOUND = apiError('there is no such version', 'VERSION_NOT_FOUND');

/** A lifecycle step on one version: the version after it, or why not. */
function step(
  operationId: string,
  summary: string,
  description: string,
  body: typeof commentBody | typeof reasonBody,
  fourEyes: ApiRouteSpec['errors'] = {},
): ApiRouteSpec {
  return {
    tag: 'policy',
    operationId,
    summary,
    description,
    params: versionParams,
    body,
    responses: { 200: ok('The version after the step', policyVersionDetailSchema) },
    errors: {
      ...fourEyes,
      404: NOT_FOUND,
      409: apiError(
        "the step does not apply to the version's status, or another activation changed the active version at the same moment",
        'INVALID_TRANSITION',
        'CONCURRENT_ACTIVATION',
      ),
    },
  };
}

/**
 * The policy lifecycle's admin API (documented in `GET /api/v1/openapi.json`). Reading needs
 * admin, policy-approver or auditor; writing needs admin or policy-approver; approving also needs
 * being neither the author nor the proposer (checked by {@link PolicyLifecycle.approve}).
 *
 * Every write is an admin action (`policy.<step>`): its attempt is committed to the audit trail
 * before the step runs (503 `AUDIT_UNAVAILABLE` and no change if it cannot be), and its end
 * (`ok`, or `error` with the refusal, e.g. a four-eyes `APPROVAL_BY_AUTHOR`) follows.
 */
@Controller('api/v1/policy')
@UseFilters(PolicyErrorFilter)
@UseInterceptors(PolicyErrorInterceptor)
@Roles('admin', 'policy-approver', 'auditor')
export class PolicyController {
  constructor(
    private readonly lifecycle: PolicyLifecycle,
    private readonly active: ActivePolicy,
  ) {}

  /** Every version, newest first. */
  @Get('versions')
  @Header('cache-control', 'no-store')
  @ApiRoute({
    tag: 'policy',
    operationId: 'listPolicyVersions',
    summary: 'Every version, newest first',
    responses: { 200: ok('The versions, without file texts', z.array(policyVersionSummarySchema)) },
  })
  list(): Promise<PolicyVersionSummary[]> {
    return this.lifecycle.list();
  }

  /** One version with its files and history. */
  @Get('versions/:number')
  @Header('cache-control', 'no-store')
  @ApiRoute({
    tag: 'policy',
    operationId: 'getPolicyVersion',
    summary: 'One version with its files and history',
    params: versionParams,
    responses: { 200: ok('The version', policyVersionDetailSchema) },
    errors: { 404: NOT_FOUND },
  })
  get(@Param('number') number: string): Promise<PolicyVersionDetail> {
    return this.lifecycle.get(versionNumber(number, 'the version'));
  }

  /** A new draft from files; files with problems get 422 with every position. */
  @Post('versions')
  @HttpCode(201)
  @Roles('admin', 'policy-approver')
  @AdminAction('policy.create', {
    target: () => 'policy/versions',
    details: draftDetails,
    resultTarget: (created) => `policy/versions/${(created as PolicyVersionDetail).number}`,
  })
  @ApiRoute({
    tag: 'policy',
    operationId: 'createPolicyDraft',
    summary: 'Create a draft from files',
    description:
      'The files are parsed; any problem refuses them with 422 and every position, and nothing is stored.',
    body: createDraftBody,
    responses: { 201: ok('The new draft', policyVersionDetailSchema) },
    errors: {
      422: apiError(
        'the files have problems, each with file, line and column (in `problems`); nothing was stored',
        'POLICY_INVALID',
      ),
    },
  })
  create(@Body() body: unknown, @Caller() caller: ConsoleCaller): Promise<PolicyVersionDetail> {
    const { files, message } = parseRequest(createDraftBody, body, 'body');
    return this.lifecycle.createDraft(files, message, caller.principal);
  }

  @Post('versions/:number/propose')
  @HttpCode(200)
  @Roles('admin', 'policy-approver')
  @AdminAction('policy.propose', { target: versionTarget })
  @ApiRoute(step('proposePolicyVersion', 'draft → proposed', 'Asks for approval.', commentBody))
  propose(
    @Param('number') number: string,
    @Body() body: unknown,
    @Caller() caller: ConsoleCaller,
  ): Promise<PolicyVersionDetail> {
    const { comment } = parseRequest(commentBody, body, 'body');
    return this.lifecycle.propose(versionNumber(number, 'the version'), caller.principal, comment);
  }

  @Post('versions/:number/approve')
  @HttpCode(200)
  @Roles('admin', 'policy-approver')
  @AdminAction('policy.approve', { target: versionTarget })
  @ApiRoute(
    step(
      'approvePolicyVersion',
      'proposed → approved',
      'Four eyes: refused with 403 for the author (APPROVAL_BY_AUTHOR) and the proposer (APPROVAL_BY_PROPOSER).',
      commentBody,
      {
        403: apiError(
          'four eyes: the author and the proposer may not approve; approving needs policy-approver or admin',
          'APPROVAL_BY_AUTHOR',
          'APPROVAL_BY_PROPOSER',
          'APPROVER_ROLE_REQUIRED',
        ),
      },
    ),
  )
  approve(
    @Param('number') number: string,
    @Body() body: unknown,
    @Caller() caller: ConsoleCaller,
  ): Promise<PolicyVersionDetail> {
    const { comment } = parseRequest(commentBody, body, 'body');
    return this.lifecycle.approve(versionNumber(number, 'the version'), caller.principal, comment);
  }

  @Post('versions/:number/reject')
  @HttpCode(200)
  @Roles('admin', 'policy-approver')
  @AdminAction('policy.reject', { target: versionTarget })
  @ApiRoute(step('rejectPolicyVersion', 'draft, proposed or approved → rejected', 'Says why.', reasonBody))
  reject(
    @Param('number') number: string,
    @Body() body: unknown,
    @Caller() caller: ConsoleCaller,
  ): Promise<PolicyVersionDetail> {
    const { comment } = parseRequest(reasonBody, body, 'body');
    return this.lifecycle.reject(versionNumber(number, 'the version'), caller.principal, comment);
  }

  @Post('versions/:number/activate')
  @HttpCode(200)
  @Roles('admin', 'policy-approver')
  @AdminAction('policy.activate', { target: versionTarget })
  @ApiRoute(
    step(
      'activatePolicyVersion',
      'approved → active',
      'The active version becomes superseded in the same transaction; every replica loads the new one within 2 s.',
      commentBody,
    ),
  )
  activate(
    @Param('number') number: string,
    @Body() body: unknown,
    @Caller() caller: ConsoleCaller,
  ): Promise<PolicyVersionDetail> {
    const { comment } = parseRequest(commentBody, body, 'body');
    return this.lifecycle.activate(versionNumber(number, 'the version'), caller.principal, comment);
  }

  @Post('versions/:number/rollback')
  @HttpCode(200)
  @Roles('admin', 'policy-approver')
  @AdminAction('policy.rollback', { target: versionTarget })
  @ApiRoute(
    step(
      'rollbackPolicyVersion',
      'Re-activate an earlier approved or superseded version',
      'Recorded as `rollback` with the comment, which is required. Four eyes: a superseded version goes back only by someone who neither wrote, proposed nor approved it, and only if a second person approved it (an imported version never was); otherwise 403 ROLLBACK_NEEDS_SECOND_PERSON. An approved version goes as by activate.',
      reasonBody,
      {
        403: apiError(
          'four eyes: a superseded version goes back only by a second person',
          'ROLLBACK_NEEDS_SECOND_PERSON',
        ),
      },
    ),
  )
  rollback(
    @Param('number') number: string,
    @Body() body: unknown,
    @Caller() caller: ConsoleCaller,
  ): Promise<PolicyVersionDetail> {
    const { comment } = parseRequest(reasonBody, body, 'body');
    return this.lifecycle.rollback(versionNumber(number, 'the version'), caller.principal, comment);
  }

  /** `?from=&to=`: one unified diff per changed file. */
  @Get('diff')
  @Header('cache-control', 'no-store')
  @ApiRoute({
    tag: 'policy',
    operationId: 'diffPolicyVersions',
    summary: 'Unified diff per changed file between two versions',
    query: diffQuery,
    responses: { 200: ok('The changed files', policyDiffSchema) },
    errors: { 404: NOT_FOUND },
  })
  diff(@Query('from') from: string | undefined, @Query('to') to: string | undefined): Promise<PolicyDiff> {
    return this.lifecycle.diff(versionNumber(from, 'from'), versionNumber(to, 'to'));
  }

  /** The version THIS replica enforces (not only what the database says): propagation is visible here. */
  @Get('active')
  @Header('cache-control', 'no-store')
  @ApiRoute({
    tag: 'policy',
    operationId: 'getActivePolicy',
    summary: 'The version this replica enforces',
    responses: { 200: ok('What this replica decides with', activePolicySchema) },
  })
  async current(): Promise<ActivePolicyView> {
    const version = this.active.current()?.version ?? null;
    return {
      version,
      loadedAt: this.active.loadedAt() ?? null,
      details: version === null ? null : await this.lifecycle.summary(version),
    };
  }
}
