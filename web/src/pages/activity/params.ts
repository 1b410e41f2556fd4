import { useCallback, useMemo } from 'react';
import { useSearchParams } from 'react-router';

/** Everything the Activity screen shows is named by its URL, so any view is a shareable link. */
export const PARAM_KEYS = ['user', 'period', 'server', 'tool', 'decision', 'outcome'] as const;
export type ParamKey = (typeof PARAM_KEYS)[number];
export type ActivityParams = Record<ParamKey, string>;

export const DEFAULT_PERIOD = 'today';

export function useActivityParams(): [ActivityParams, (patch: Partial<ActivityParams>) => void] {
  const [search, setSearch] = useSearchParams();
  const params = useMemo(() => {
    const out = {} as ActivityParams;
    for (const key of PARAM_KEYS) out[key] = search.get(key) ?? '';
    return out;
  }, [search]);
  const update = useCallback(
    (patch: Partial<ActivityParams>) => {
      setSearch(
        (prev) => {
          const next = new URLSearchParams(prev);
          for (const [key, value] of Object.entries(patch)) {
            if (value) next.set(key, value);
            else next.delete(key);
          }
          return next;
        },
        { replace: false },
      );
    },
    [setSearch],
  );
  return [params, update];
}

/** The console roles the audit endpoints need, as errors name them. */
export const ROLES = 'auditor or admin';
