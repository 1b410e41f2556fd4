export type {
  Action,
  Decision,
  DecisionInput,
  Effect,
  EnforcementEntry,
  EnforcementMode,
  PolicyDocument,
  PolicyProblem,
  PolicyRule,
  SourcePosition,
  ToolAttestation,
} from './types';
