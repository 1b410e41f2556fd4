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
