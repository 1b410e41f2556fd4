import { Badge, Button, Group, HoverCard, List, Loader, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { verifyPeriod } from './contracts';
import { ROLES } from './params';
import classes from './activity.module.css';
import { nextStep } from '../../components/ApiErrorAlert';
import { Stamp } from './time';

/**
 * The chain verification of the period's records (the verifier `gatehouse audit verify` uses, run
 * by the server): verified with how many records were checked and when, or the problems found.
 */
export function IntegrityBadge({ period }: { period: { from: string; to: string } }) {
  const verify = useQuery({
    queryKey: ['audit', 'verify', period.from, period.to],
    queryFn: ({ signal }) => verifyPeriod(period.from, period.to, signal),
    staleTime: Infinity,
    retry: false,
  });
  let badge;
  if (verify.isPending) {
    badge = (
      <Badge variant="outline" color="gray.8" tt="none" leftSection={<Loader size={10} />}>
        verifying chain…
      </Badge>
    );
  } else if (verify.error) {
    badge = (
      <HoverCard>
        <HoverCard.Target>
          <Badge variant="filled" color="red.9" tabIndex={0} role="button" tt="none">
            not verified: {verify.error.message}
          </Badge>
        </HoverCard.Target>
        <HoverCard.Dropdown>
          <Text size="xs">{nextStep(verify.error, ROLES).advice}</Text>
        </HoverCard.Dropdown>
      </HoverCard>
    );
  } else if (verify.data.ok) {
    badge = (
      <Badge variant="filled" color="teal.9" data-testid="integrity" tt="none">
        chain verified · {verify.data.checked} records
      </Badge>
    );
  } else {
    badge = (
      <HoverCard width={420}>
        <HoverCard.Target>
          <Badge variant="filled" color="red.9" data-testid="integrity" tabIndex={0} role="button" tt="none">
            chain broken · {verify.data.problems.length} problems in {verify.data.checked} records
          </Badge>
        </HoverCard.Target>
        <HoverCard.Dropdown>
          <List size="xs">
            {verify.data.problems.slice(0, 20).map((p, i) => (
              <List.Item key={`${p.id ?? ''}${i}`}>
                {p.id ? (
                  <Text span ff="monospace" size="xs">
                    {p.id}:{' '}
                  </Text>
                ) : null}
                {p.reason}
              </List.Item>
            ))}
          </List>
        </HoverCard.Dropdown>
      </HoverCard>
    );
  }
  return (
    <Group gap={6} aria-live="polite">
      <Text size="xs" className={classes.muted}>
        integrity
      </Text>
      {badge}
      {verify.data ? (
        <Text size="xs" className={classes.muted}>
          at <Stamp at={verify.data.verifiedAt} seconds />
        </Text>
      ) : null}
      <Button
        size="compact-xs"
        variant="subtle"
        onClick={() => void verify.refetch()}
        loading={verify.isFetching && !verify.isPending}
      >
        verify again
      </Button>
    </Group>
  );
}
