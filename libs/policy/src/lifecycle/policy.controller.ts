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
import { AdminAction, Caller, Roles, type ConsoleCaller } from '@gatehouse/auth';
import { ActivePolicy } from '../active/active-policy';
import { commentBody, createDraftBody, parseRequest, reasonBody, versionNumber } from './dto';
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
  list(): Promise<PolicyVersionSummary[]> {
    return this.lifecycle.list();
  }

  /** One version with its files and history. */
  @Get('versions/:number')
  @Header('cache-control', 'no-store')
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
  create(@Body() body: unknown, @Caller() caller: ConsoleCaller): Promise<PolicyVersionDetail> {
    const { files, message } = parseRequest(createDraftBody, body, 'body');
    return this.lifecycle.createDraft(files, message, caller.principal);
  }

  @Post('versions/:number/propose')
  @HttpCode(200)
  @Roles('admin', 'policy-approver')
  @AdminAction('policy.propose', { target: versionTarget })
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
  diff(@Query('from') from: string | undefined, @Query('to') to: string | undefined): Promise<PolicyDiff> {
    return this.lifecycle.diff(versionNumber(from, 'from'), versionNumber(to, 'to'));
  }

  /** The version THIS replica enforces (not only what the database says): propagation is visible here. */
  @Get('active')
  @Header('cache-control', 'no-store')
  async current(): Promise<ActivePolicyView> {
    const version = this.active.current()?.version ?? null;
    return {
      version,
      loadedAt: this.active.loadedAt() ?? null,
      details: version === null ? null : await this.lifecycle.summary(version),
    };
  }
}
