export type {
  Action,
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
export { POLICY_SOURCE } from './types';
export { parsePolicy, isPolicyTestFile } from './language/parse';
export { CEL_VARIABLES } from './language/cel';
export { compilePolicy, ENGINE_ERROR_PREFIX } from './engine/compile';
export { classify } from './engine/classify';
export type { Classification, ClassifyInput } from './engine/classify';
