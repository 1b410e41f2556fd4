import { useQuery } from '@tanstack/react-query';
import { ApiError, setCsrfToken } from '../api/client';
import { requestJson } from './http';

/** Console roles, as the gateway names them (libs/config CONSOLE_ROLES). */
export const CONSOLE_ROLES = ['admin', 'policy-approver', 'incident-responder', 'auditor'] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

/** `GET /api/v1/me`. */
export interface Me {
  kind: string;
  sub: string;
  issuer: string;
  name?: string;
  email?: string;
  groups: string[];
  roles: string[];
  authenticatedBy: string;
  csrfToken?: string;
  session?: { createdAt: string; lastSeenAt: string; expiresAt: string; idleExpiresAt: string };
}

export const ME_KEY = ['me'] as const;

/** Who is signed in; a 401 is not retried (the shell sends the person to sign in). */
export function useMe() {
  return useQuery({
    queryKey: ME_KEY,
    queryFn: async () => {
      const me = await requestJson<Me>('/api/v1/me');
      setCsrfToken(me.csrfToken);
      return me;
    },
    retry: (count, err) => !(err instanceof ApiError && err.status < 500 && err.status > 0) && count < 2,
    staleTime: 60_000,
  });
}

/** The console's sign-in for the page the browser is on now, so it comes back to it. */
export function signInUrl(current: Location = window.location): string {
  const here = `${current.pathname}${current.search}${current.hash}`;
  return `/auth/login?returnTo=${encodeURIComponent(here)}`;
}

let leaving = false;

/** Leaves for the sign-in (once, however many requests answered 401 at the same time). */
export function goToSignIn(): void {
  if (leaving) return;
  leaving = true;
  window.location.assign(signInUrl());
}

/** `POST /auth/logout` with the CSRF token, then where the gateway says (the IdP's end session). */
export async function signOut(csrfToken: string | undefined): Promise<void> {
  const answer = await requestJson<{ redirectTo: string }>('/auth/logout', {
    method: 'POST',
    ...(csrfToken !== undefined ? { csrfToken } : {}),
  });
  setCsrfToken(undefined);
  leaving = true;
  window.location.assign(answer.redirectTo);
}

/** True when an error means "not signed in (any more)". */
export function isUnauthenticated(err: unknown): boolean {
  return err instanceof ApiError && err.status === 401;
}
