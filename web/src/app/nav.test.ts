import { describe, expect, test } from '@jest/globals';
import { mayOpen, navFor, readOnlyFor, rolesInWords, SCREENS } from './nav';

const labels = (roles: string[]) => navFor(roles).map((s) => s.label);
const screen = (label: string) => SCREENS.find((s) => s.label === label)!;

describe('navigation by console role', () => {
  test.each([
    [[], []],
    [['not-a-console-role'], []],
    [['auditor'], ['Overview', 'Activity', 'Break glass']],
    [['incident-responder'], ['Overview', 'Break glass']],
    [['policy-approver'], ['Overview', 'Policies']],
    [['admin'], ['Overview', 'Activity', 'Break glass', 'Policies']],
    [
      ['auditor', 'incident-responder'],
      ['Overview', 'Activity', 'Break glass'],
    ],
  ])('%j sees %j', (roles, expected) => {
    expect(labels(roles)).toEqual(expected);
  });

  test('break glass is read-only for an auditor, not for a responder or an auditor who also responds', () => {
    const breakGlass = screen('Break glass');
    expect(readOnlyFor(breakGlass, ['auditor'])).toBe(true);
    expect(readOnlyFor(breakGlass, ['incident-responder'])).toBe(false);
    expect(readOnlyFor(breakGlass, ['auditor', 'admin'])).toBe(false);
  });

  test('a person without a console role may open nothing, not even the overview', () => {
    expect(mayOpen(screen('Overview'), [])).toBe(false);
    expect(mayOpen(screen('Overview'), ['data-platform'])).toBe(false);
  });

  test('roles in words', () => {
    expect(rolesInWords(['auditor', 'admin'])).toBe('auditor or admin');
    expect(rolesInWords(['incident-responder', 'admin', 'auditor'])).toBe(
      'incident-responder, admin or auditor',
    );
  });
});
