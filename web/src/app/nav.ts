import type { ConsoleRole } from './session';

/** A screen of the console, who may open it, and how the navigation shows it. */
export interface Screen {
  path: string;
  label: string;
  /** Roles that may open it; any console role when empty. */
  roles: ConsoleRole[];
  /** Roles that see it read-only (the server refuses their writes). */
  readOnly?: ConsoleRole[];
  comingSoon?: boolean;
}

export const SCREENS: Screen[] = [
  { path: '/', label: 'Overview', roles: [] },
  { path: '/activity', label: 'Activity', roles: ['auditor', 'admin'] },
  {
    path: '/break-glass',
    label: 'Break glass',
    roles: ['incident-responder', 'admin', 'auditor'],
    readOnly: ['auditor'],
  },
  { path: '/policies', label: 'Policies', roles: ['admin', 'policy-approver'], comingSoon: true },
];

const isConsoleRole = (role: string): role is ConsoleRole =>
  role === 'admin' || role === 'policy-approver' || role === 'incident-responder' || role === 'auditor';

/** The console roles among what the server says the person holds. */
export function consoleRoles(roles: readonly string[]): ConsoleRole[] {
  return roles.filter(isConsoleRole);
}

/** Whether someone holding `roles` may open `screen` (needs at least one console role). */
export function mayOpen(screen: Screen, roles: readonly string[]): boolean {
  const held = consoleRoles(roles);
  if (held.length === 0) return false;
  return screen.roles.length === 0 || screen.roles.some((r) => held.includes(r));
}

/** True when every role that lets the person open `screen` is a read-only one. */
export function readOnlyFor(screen: Screen, roles: readonly string[]): boolean {
  const held = consoleRoles(roles);
  const opening = held.filter((r) => screen.roles.length === 0 || screen.roles.includes(r));
  return opening.length > 0 && opening.every((r) => screen.readOnly?.includes(r) ?? false);
}

/** The navigation for someone holding `roles`: only what they may open. */
export function navFor(roles: readonly string[]): Screen[] {
  return SCREENS.filter((screen) => mayOpen(screen, roles));
}

/** "auditor or admin" */
export function rolesInWords(roles: readonly string[]): string {
  if (roles.length <= 1) return roles.join('');
  return `${roles.slice(0, -1).join(', ')} or ${roles.at(-1) ?? ''}`;
}
