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
import { Caller, Roles, type ConsoleCaller } from '@gatehouse/auth';
import { ActivePolicy } from '../active/active-policy';
import { commentBody, createDraftBody, parseRequest, reasonBody, versionNumber } from './dto';
import { PolicyErrorFilter, PolicyErrorInterceptor } from './policy-error.filter';
import { PolicyLifecycle } from './policy-lifecycle.service';
import type { ActivePolicyView, PolicyDiff, PolicyVersionDetail, PolicyVersionSummary } from './views';

/**
 * The policy lifecycle's admin API (documented in `GET /api/v1/openapi.json`). Reading needs
 * admin, policy-approver or auditor; writing needs admin or policy-approver; approving also needs
 * being neither the author nor the proposer (checked by {@link PolicyLifecycle.approve}).
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
  create(@Body() body: unknown, @Caller() caller: ConsoleCaller): Promise<PolicyVersionDetail> {
    const { files, message } = parseRequest(createDraftBody, body, 'body');
    return this.lifecycle.createDraft(files, message, caller.principal);
  }

  @Post('versions/:number/propose')
  @HttpCode(200)
  @Roles('admin', 'policy-approver')
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
