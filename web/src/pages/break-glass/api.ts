import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../../api/client';
import { useMe } from '../../app/session';
import type { GrantDetail, GrantLimits, OpenGrantBody, Viewer } from './words';

/** Grants, the open grant and its calls refresh this often, so changes made elsewhere show up. */
export const REFRESH_MS = 5_000;

const GRANTS = ['bypass', 'grants'] as const;

/** The signed-in person, from the shell's `GET /api/v1/me` query (which also keeps the CSRF token). */
export function useViewer(): { data?: Viewer; error: unknown } {
  const me = useMe();
  return {
    error: me.error,
    ...(me.data ? { data: { sub: me.data.sub, name: me.data.name, roles: me.data.roles } } : {}),
  };
}

/** The gateway's grant durations (its `bypass:` settings), in the dialog's minutes and hours. */
export function useGrantLimits(): GrantLimits | undefined {
  const settings = useQuery({
    queryKey: ['bypass', 'settings'],
    queryFn: async () => unwrap(await api.GET('/api/v1/bypass/settings')),
    staleTime: 60_000,
  });
  const s = settings.data;
  return s
    ? {
        defaultMinutes: Math.round(s.defaultDurationSeconds / 60),
        maxMinutes: Math.round(s.maxDurationSeconds / 60),
        reviewHours: Math.round(s.reviewWindowSeconds / 3600),
      }
    : undefined;
}

export function useGrants() {
  return useQuery({
    queryKey: GRANTS,
    queryFn: async () => unwrap(await api.GET('/api/v1/bypass/grants')),
    refetchInterval: REFRESH_MS,
  });
}

export function useGrant(id: string | null) {
  return useQuery({
    queryKey: ['bypass', 'grant', id],
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/bypass/grants/{id}', { params: { path: { id: id ?? '' } } })),
    enabled: id !== null,
    refetchInterval: REFRESH_MS,
  });
}

export function useGrantCalls(id: string | null) {
  return useQuery({
    queryKey: ['bypass', 'grant', id, 'calls'],
    queryFn: async () =>
      unwrap(await api.GET('/api/v1/bypass/grants/{id}/calls', { params: { path: { id: id ?? '' } } })),
    enabled: id !== null,
    refetchInterval: REFRESH_MS,
  });
}

export async function openGrant(body: OpenGrantBody): Promise<GrantDetail> {
  return unwrap(await api.POST('/api/v1/bypass/grants', { body }));
}

/** Every bypass query is refetched after a write, whether it worked or was refused. */
function useBypassWrite<V>(write: (vars: V) => Promise<GrantDetail>) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: write,
    onSettled: () => client.invalidateQueries({ queryKey: ['bypass'] }),
  });
}

export function useApprove() {
  return useBypassWrite(async ({ id, comment }: { id: string; comment: string }) =>
    unwrap(
      await api.POST('/api/v1/bypass/grants/{id}/approve', {
        params: { path: { id } },
        body: comment.trim() ? { comment: comment.trim() } : {},
      }),
    ),
  );
}

export function useRevoke() {
  return useBypassWrite(async ({ id, reason }: { id: string; reason: string }) =>
    unwrap(
      await api.POST('/api/v1/bypass/grants/{id}/revoke', {
        params: { path: { id } },
        body: reason.trim() ? { reason: reason.trim() } : {},
      }),
    ),
  );
}

export function useReview() {
  return useBypassWrite(async ({ id, note }: { id: string; note: string }) =>
    unwrap(
      await api.POST('/api/v1/bypass/grants/{id}/review', {
        params: { path: { id } },
        body: { note: note.trim() },
      }),
    ),
  );
}

export function useInvalidateGrants() {
  const client = useQueryClient();
  return () => client.invalidateQueries({ queryKey: ['bypass'] });
}
