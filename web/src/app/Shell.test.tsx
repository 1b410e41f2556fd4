import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { render, screen, within } from '@testing-library/react';
import { App, makeQueryClient } from './App';
import type { Me } from './session';

/**
 * The shell against a stand-in for the gateway's `fetch` answers (jsdom has no gateway; the
 * browser journeys in e2e/console run the real one).
 */
const person = (roles: string[], name = 'Frank Fischer'): Me => ({
  kind: 'user',
  sub: name.split(' ')[0]!.toLowerCase(),
  issuer: 'http://idp.test',
  name,
  email: 'someone@example.com',
  groups: roles.length > 0 ? roles : ['data-platform'],
  roles,
  authenticatedBy: 'session',
  csrfToken: 'csrf',
  session: {
    createdAt: '2026-12-08T01:00:00Z',
    lastSeenAt: '2026-12-08T01:00:00Z',
    expiresAt: '2026-12-08T09:00:00Z',
    idleExpiresAt: '2026-12-08T02:00:00Z',
  },
});

function answering(routes: Record<string, [number, unknown]>) {
  return jest.fn(async (input: unknown) => {
    const path = String(input);
    const [status, body] = routes[path] ?? [404, { error: { code: 'NOT_FOUND', message: path } }];
    // jsdom has no Response; requestJson reads only these.
    return { ok: status < 300, status, statusText: '', text: async () => JSON.stringify(body) };
  });
}

const realFetch = globalThis.fetch;
beforeEach(() => window.history.replaceState(null, '', '/console/'));
afterEach(() => {
  globalThis.fetch = realFetch;
});

describe('the console shell', () => {
  test('an auditor sees Overview, Activity and Break glass (read-only), not Policies', async () => {
    globalThis.fetch = answering({
      '/api/v1/me': [200, person(['auditor'])],
      '/api/v1/overview': [503, { error: { code: 'AUDIT_UNAVAILABLE', message: 'down for the test' } }],
    }) as unknown as typeof fetch;
    render(<App client={makeQueryClient(() => undefined)} />);
    const nav = await screen.findByRole('navigation', { name: 'Screens' });
    const links = within(nav)
      .getAllByRole('link')
      .map((a) => a.textContent);
    expect(links).toEqual(['Overview', 'Activity', 'Break glassread-only']);
  });

  test('a person without a console role gets the plain page naming the roles and who grants them', async () => {
    globalThis.fetch = answering({
      '/api/v1/me': [200, person([], 'Alice Anders')],
    }) as unknown as typeof fetch;
    render(<App client={makeQueryClient(() => undefined)} />);
    expect(await screen.findByText('You are signed in, but have no console role')).toBeTruthy();
    for (const role of ['auditor', 'incident-responder', 'policy-approver', 'admin']) {
      expect(screen.getAllByText(role).length).toBeGreaterThan(0);
    }
    expect(screen.getByText('auth.roles')).toBeTruthy();
    expect(screen.queryByRole('navigation', { name: 'Screens' })).toBeNull();
  });

  test('a 401 sends the person to sign in', async () => {
    globalThis.fetch = answering({
      '/api/v1/me': [401, { error: { code: 'UNAUTHENTICATED', message: 'sign in' } }],
    }) as unknown as typeof fetch;
    const signIn = jest.fn();
    render(<App client={makeQueryClient(signIn)} />);
    expect(await screen.findByText('Taking you to sign in…')).toBeTruthy();
    expect(signIn).toHaveBeenCalled();
  });

  test('a screen the roles do not open says which role would', async () => {
    window.history.replaceState(null, '', '/console/activity');
    globalThis.fetch = answering({
      '/api/v1/me': [200, person(['incident-responder'], 'Erin Evans')],
    }) as unknown as typeof fetch;
    render(<App client={makeQueryClient(() => undefined)} />);
    expect(await screen.findByText(/This needs the console role auditor or admin/)).toBeTruthy();
    expect(screen.getByText('ROLE_REQUIRED')).toBeTruthy();
  });
});
