import { Group, Select, Text } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { fetchPrincipals, type Principal } from './contracts';
import { ROLES } from './params';
import classes from './activity.module.css';
import { nextStep } from '../../components/ApiErrorAlert';

/** "Alice Liddell <alice@example.com>" or the subject alone. */
export function principalLabel(p: Pick<Principal, 'subject' | 'name' | 'email'>): string {
  const name = p.name ?? p.subject;
  return p.email ? `${name} <${p.email}>` : name;
}

/**
 * Picks a principal seen in the trail, searching the server by name, email or subject. The
 * selected subject stays an option even before the search has answered (a shared link).
 */
export function PersonPicker({ value, onChange }: { value: string; onChange: (subject: string) => void }) {
  const [search, setSearch] = useState('');
  const [selectedLabel, setSelectedLabel] = useState('');
  const [debounced] = useDebouncedValue(search, 250);
  // Once a person is picked the box shows their label: that is not a new search.
  const q = debounced === selectedLabel ? '' : debounced;
  const principals = useQuery({
    queryKey: ['audit', 'principals', q],
    queryFn: ({ signal }) => fetchPrincipals(q, signal),
    placeholderData: keepPreviousData,
    staleTime: 30_000,
  });
  const list = useMemo(() => principals.data?.principals ?? [], [principals.data]);
  const data = useMemo(() => {
    const options = list.map((p) => ({ value: p.subject, label: principalLabel(p) }));
    if (value && !options.some((o) => o.value === value)) options.unshift({ value, label: value });
    return options;
  }, [list, value]);
  const bySubject = useMemo(() => new Map(list.map((p) => [p.subject, p])), [list]);

  return (
    <Select
      label="Person"
      description="Search by name, email or subject"
      placeholder="alice"
      searchable
      clearable
      w={320}
      classNames={{ description: classes.muted }}
      data={data}
      value={value || null}
      searchValue={search}
      onSearchChange={setSearch}
      // The server already searched name, email and subject; show what it answered.
      filter={({ options }) => options}
      onChange={(subject, option) => {
        setSelectedLabel(option?.label ?? '');
        onChange(subject ?? '');
      }}
      nothingFoundMessage={principals.isFetching ? 'Searching…' : 'Nobody in the trail matches'}
      error={
        principals.error
          ? `${principals.error.message} — ${nextStep(principals.error, ROLES).advice}`
          : undefined
      }
      renderOption={({ option }) => {
        const p = bySubject.get(option.value);
        return (
          <Group gap={6} wrap="nowrap">
            <Text size="sm">{p?.name ?? option.value}</Text>
            {p?.email ? (
              <Text size="xs" className={classes.muted}>
                {p.email}
              </Text>
            ) : null}
            {p && p.name && p.name !== p.subject ? (
              <Text size="xs" className={classes.muted} ff="monospace">
                {p.subject}
              </Text>
            ) : null}
            {p ? (
              <Text size="xs" className={classes.muted}>
                · {p.calls} calls
              </Text>
            ) : null}
          </Group>
        );
      }}
    />
  );
}
