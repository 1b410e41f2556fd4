import { Badge, Button, Group, Table, Text, VisuallyHidden } from '@mantine/core';
import { Countdown } from './Countdown';
import { When } from './When';
import { actorName, grantCovers, grantScope, type Grant } from './words';

/** Active is red (policy denies are lifted), pending is yellow (dark text), ended ones are plain. */
export function StatusBadge({ grant }: { grant: Grant }) {
  const status = grant.status ?? '';
  if (status === 'active')
    return (
      <Badge color="red.9" variant="filled">
        active
      </Badge>
    );
  if (status === 'pending-approval')
    return (
      <Badge color="yellow" variant="filled" autoContrast>
        pending approval
      </Badge>
    );
  return <Badge variant="default">{status}</Badge>;
}

/** One list of grants: what each covers and lifts, four eyes, and its time left or when it ended. */
export function GrantTable({
  grants,
  onOpen,
  caption,
  empty,
  review = false,
}: {
  grants: Grant[];
  onOpen: (id: string) => void;
  caption: string;
  empty: string;
  /** The review queue: due date and overdue flag instead of the countdown. */
  review?: boolean;
}) {
  if (grants.length === 0) return <Text size="sm">{empty}</Text>;
  return (
    <Table.ScrollContainer minWidth={900}>
      <Table stickyHeader striped highlightOnHover verticalSpacing={6} aria-label={caption}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Grant</Table.Th>
            <Table.Th>Covers</Table.Th>
            <Table.Th>Scope</Table.Th>
            <Table.Th>Lifts</Table.Th>
            <Table.Th>Opened by</Table.Th>
            <Table.Th>Approved by</Table.Th>
            <Table.Th>{review ? 'Review due' : 'Ends'}</Table.Th>
            <Table.Th aria-label="Actions" />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {grants.map((g) => (
            <Table.Tr key={g.id} data-grant={g.id}>
              <Table.Td maw={320}>
                <Group gap={6} wrap="nowrap">
                  <StatusBadge grant={g} />
                  <Text size="xs" ff="monospace">
                    {g.id?.slice(0, 8)}
                  </Text>
                  {g.incident && (
                    <Badge variant="default" size="sm">
                      {g.incident}
                    </Badge>
                  )}
                </Group>
                <Text size="sm" lineClamp={2} title={g.reason}>
                  {g.reason}
                </Text>
              </Table.Td>
              <Table.Td>{grantCovers(g)}</Table.Td>
              <Table.Td>{grantScope(g)}</Table.Td>
              <Table.Td>{g.lifts?.rateLimits ? 'policy denies, rate limits' : 'policy denies'}</Table.Td>
              <Table.Td>
                <Text size="sm">{actorName(g.openedBy)}</Text>
                <When at={g.openedAt} />
              </Table.Td>
              <Table.Td>
                {g.mode === 'immediate' ? (
                  <Text size="sm">break glass (review after)</Text>
                ) : g.approvedBy ? (
                  <>
                    <Text size="sm">{actorName(g.approvedBy)}</Text>
                    <When at={g.approvedAt} />
                  </>
                ) : (
                  <Text size="sm">waiting for a second person</Text>
                )}
              </Table.Td>
              <Table.Td>
                {review ? (
                  <Group gap={6}>
                    <When at={g.review?.dueAt} />
                    {g.review?.overdue && (
                      <Badge color="red.9" variant="filled">
                        overdue
                      </Badge>
                    )}
                  </Group>
                ) : g.status === 'active' || g.status === 'pending-approval' ? (
                  <Countdown until={g.expiresAt ?? new Date()} />
                ) : g.status === 'revoked' ? (
                  <Text size="sm">
                    revoked by {actorName(g.revokedBy)}, <When at={g.revokedAt} />
                  </Text>
                ) : (
                  <When at={g.expiresAt} />
                )}
              </Table.Td>
              <Table.Td>
                <Button size="xs" variant="light" onClick={() => g.id && onOpen(g.id)}>
                  {review ? 'Review' : 'Details'}
                  <VisuallyHidden> grant {g.id?.slice(0, 8)}</VisuallyHidden>
                </Button>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
