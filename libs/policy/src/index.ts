export type {
  Action,
  BypassCover,
  BypassFacts,
  BypassGrants,
  BypassedDecision,
  Candidates,
  CompiledPolicy,
  Decision,
  DecisionInput,
  Effect,
  EnforcementEntry,
  EnforcementMode,
  ParseResult,
  PolicyDocument,
  PolicyFile,
  PolicyProblem,
  PolicyRule,
  PolicySource,
  SourcePosition,
  ToolAttestation,
} from './types';
export { BYPASS_GRANTS, POLICY_SOURCE } from './types';
export { compileGlob } from './language/glob';
export type { Matcher } from './language/glob';
export { ActivationBus, LocalActivationBus, RedisActivationBus } from './active/activation-bus';
export { parsePolicy, isPolicyTestFile } from './language/parse';
export { CEL_VARIABLES } from './language/cel';
export { compilePolicy, ENGINE_ERROR_PREFIX } from './engine/compile';
export { classify } from './engine/classify';
export type { Classification, ClassifyInput } from './engine/classify';
export { PolicyModule } from './policy.module';
export { ActivePolicy } from './active/active-policy';
export type { ActivePolicyListener } from './active/active-policy';
export { PolicyLifecycle } from './lifecycle/policy-lifecycle.service';
export type { PolicyActor } from './lifecycle/policy-lifecycle.service';
export { PolicyError, PolicyErrorCode, policyErrorStatus, formatProblems } from './lifecycle/policy-error';
export { PolicyVersion, POLICY_STATUSES } from './lifecycle/policy-version.entity';
export type { PolicyStatus } from './lifecycle/policy-version.entity';
export { PolicyEvent, POLICY_ACTIONS } from './lifecycle/policy-event.entity';
export type { PolicyAction } from './lifecycle/policy-event.entity';
export { readPolicyDir } from './lifecycle/first-start';
export type {
  Actor,
  ActivePolicyView,
  PolicyDiff,
  PolicyEventView,
  PolicyVersionDetail,
  PolicyVersionSummary,
  Step,
} from './lifecycle/views';
export { parsePolicyTests, runPolicyTests } from './testing/policy-tests';
export type {
  PolicyTestCase,
  PolicyTestOptions,
  PolicyTestParseResult,
  PolicyTestResult,
  PolicyTestServer,
} from './testing/policy-tests';
export { PolicyStage } from './stage/policy.stage';
export type { PolicyEvaluation } from './stage/policy.stage';
export { governedTarget, type GovernedTarget } from './stage/targets';
export { SEED_POLICY } from './testing/seed-policy';
