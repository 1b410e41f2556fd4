import { Badge } from '@mantine/core';
import type { CSSProperties } from 'react';
import type { operations } from '../../api/schema';
import classes from './activity.module.css';

/** Outcomes as the audit record spells them (the events API's `outcome` filter). */
export const OUTCOMES = [
  'allowed',
  'denied',
  'shadow_denied',
  'rate_limited',
  'bypassed',
  'policy_error',
  'ok',
  'error',
  'aborted',
  'shadow',
  'fallback',
] as const satisfies readonly ApiOutcome[];
export type Outcome = (typeof OUTCOMES)[number];

/** The events API's `outcome` values, from the generated client: the list above must name them all. */
type ApiOutcome = NonNullable<NonNullable<operations['listAuditEvents']['parameters']['query']>['outcome']>;
const EVERY_OUTCOME_LISTED: [Exclude<ApiOutcome, Outcome>] extends [never] ? true : never = true;
void EVERY_OUTCOME_LISTED;

export const DECISIONS = ['allow', 'deny', 'shadow-deny', 'bypass'];

const OUTCOME_COLOUR: Record<string, string> = {
  allowed: 'teal',
  ok: 'teal',
  denied: 'red',
  policy_error: 'red',
  error: 'red',
  shadow_denied: 'orange',
  rate_limited: 'yellow',
  bypassed: 'grape',
  aborted: 'gray',
  shadow: 'gray',
  fallback: 'blue',
};

export function OutcomeBadge({ outcome }: { outcome: string }) {
  return (
    <Badge
      size="xs"
      variant="light"
      color={OUTCOME_COLOUR[outcome] ?? 'gray'}
      tt="none"
      className={classes.tone}
      style={toneStyle(OUTCOME_COLOUR[outcome] ?? 'gray')}
    >
      {outcome}
    </Badge>
  );
}

/** The text colours of a light badge of `colour`, readable in both schemes (see activity.module.css). */
export function toneStyle(colour: string): CSSProperties {
  return {
    '--tone-light': `var(--mantine-color-${colour}-9)`,
    '--tone-dark': `var(--mantine-color-${colour}-2)`,
  } as CSSProperties;
}
