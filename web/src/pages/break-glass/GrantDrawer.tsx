import {
  Alert,
  Badge,
  Button,
  Divider,
  Drawer,
  Group,
  Loader,
  Stack,
  Table,
  Text,
  Textarea,
  Timeline,
  Title,
} from '@mantine/core';
import { useState } from 'react';
import { useApprove, useGrant, useGrantCalls, useReview, useRevoke } from './api';
import { Countdown } from './Countdown';
import { ErrorNote } from './ErrorNote';
import { StatusBadge } from './GrantTable';
import { When } from './When';
import {
  actorName,
  canApprove,
  canReview,
  canRevoke,
  grantCovers,
  grantScope,
  involved,
  type GrantDetail,
  type Viewer,
} from './words';

/** One grant: four eyes, history, the calls made under it, and the steps the viewer may take. */
export function GrantDrawer({
  id,
  viewer,
  onClose,
}: {
  id: string | null;
  viewer: Viewer;
  onClose: () => void;
}) {
  const grant = useGrant(id);
  return (
    <Drawer
      opened={id !== null}
      onClose={onClose}
      position="right"
      size="xl"
      closeButtonProps={{ 'aria-label': 'Close the grant' }}
      title={`Grant ${id?.slice(0, 8) ?? ''}`}
    >
      {grant.isPending && id !== null && <Loader size="sm" />}
      {grant.error && <ErrorNote error={grant.error} title="The grant could not be loaded" />}
      {grant.data && <GrantBody key={grant.data.id} grant={grant.data} viewer={viewer} />}
    </Drawer>
  );
}

function GrantBody({ grant, viewer }: { grant: GrantDetail; viewer: Viewer }) {
  const id = grant.id ?? '';
  return (
    <Stack gap="md">
      <Group gap="xs">
        <StatusBadge grant={grant} />
        <Badge variant="default">{grant.mode}</Badge>
        {grant.incident && <Badge variant="default">{grant.incident}</Badge>}
        {(grant.status === 'active' || grant.status === 'pending-approval') && (
          <Countdown until={grant.expiresAt ?? new Date()} />
        )}
      </Group>
      <Text size="sm" ff="monospace">
        {id}
      </Text>
      <Text>{grant.reason}</Text>
      <Table variant="vertical" withTableBorder layout="fixed">
        <Table.Tbody>
          <Table.Tr>
            <Table.Th w={160}>Covers</Table.Th>
            <Table.Td>{grantCovers(grant)}</Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>Scope</Table.Th>
            <Table.Td>{grantScope(grant)}</Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>Lifts</Table.Th>
            <Table.Td>
              {grant.lifts?.rateLimits
                ? 'policy denies and rate limits'
                : 'policy denies (rate limits still apply)'}
            </Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>Ends</Table.Th>
            <Table.Td>
              <When at={grant.expiresAt} />
            </Table.Td>
          </Table.Tr>
        </Table.Tbody>
      </Table>

      <FourEyes grant={grant} />
      <Calls id={id} />
      <Actions grant={grant} viewer={viewer} />
    </Stack>
  );
}

function FourEyes({ grant }: { grant: GrantDetail }) {
  const steps = grant.history ?? [];
  return (
    <div>
      <Title order={4} mb="xs">
        Four eyes
      </Title>
      <Timeline bulletSize={14} lineWidth={2} active={steps.length - 1}>
        {steps.map((step, i) => (
          <Timeline.Item key={i} title={`${step.action} by ${actorName(step.actor)}`}>
            <When at={step.at} />
            {step.comment && <Text size="sm">{step.comment}</Text>}
          </Timeline.Item>
        ))}
      </Timeline>
      {grant.mode === 'approval-first' && !grant.approvedBy && grant.status === 'pending-approval' && (
        <Text size="sm" mt="xs">
          Waiting for a second incident responder or admin to approve; its time starts then.
        </Text>
      )}
      {grant.review?.required && !grant.review.reviewedAt && (
        <Text
          size="sm"
          mt="xs"
          c={grant.review.overdue ? 'red.9' : undefined}
          fw={grant.review.overdue ? 700 : 400}
        >
          Review {grant.review.overdue ? 'overdue since' : 'due by'} <When at={grant.review.dueAt} />
        </Text>
      )}
    </div>
  );
}

function Actions({ grant, viewer }: { grant: GrantDetail; viewer: Viewer }) {
  const id = grant.id ?? '';
  const approve = useApprove();
  const revoke = useRevoke();
  const review = useReview();
  const [comment, setComment] = useState('');
  const [why, setWhy] = useState('');
  const [note, setNote] = useState('');
  const mayApprove = canApprove(grant, viewer);
  const mayRevoke = canRevoke(grant, viewer);
  const mayReview = canReview(grant, viewer);
  const noteShort = note.trim().length < 10;

  return (
    <Stack gap="md">
      {grant.status === 'pending-approval' && !mayApprove && involved(grant, viewer) && (
        <Text size="sm">
          You opened this grant or it covers you, so another incident responder or admin must approve it.
        </Text>
      )}
      {mayApprove && (
        <Stack gap="xs">
          <Divider label="Approve" labelPosition="left" />
          <Textarea
            label="Comment (optional)"
            value={comment}
            onChange={(e) => setComment(e.currentTarget.value)}
          />
          <Button
            color="red.9"
            loading={approve.isPending}
            onClick={() => approve.mutate({ id, comment }, { onSuccess: () => setComment('') })}
          >
            Approve: lift policy denies for {grantCovers(grant)} now
          </Button>
          {approve.error && <ErrorNote error={approve.error} title="Not approved" />}
        </Stack>
      )}
      {mayRevoke && (
        <Stack gap="xs">
          <Divider label="Revoke" labelPosition="left" />
          <Textarea
            label="Why revoke it"
            description="Kept in the grant's history"
            value={why}
            onChange={(e) => setWhy(e.currentTarget.value)}
          />
          <Button
            color="red.9"
            variant="outline"
            loading={revoke.isPending}
            onClick={() => revoke.mutate({ id, reason: why }, { onSuccess: () => setWhy('') })}
          >
            Revoke now: end the bypass for {grantCovers(grant)}
          </Button>
          {revoke.error && <ErrorNote error={revoke.error} title="Not revoked" />}
        </Stack>
      )}
      {mayReview && (
        <Stack gap="xs">
          <Divider label="Sign off the review" labelPosition="left" />
          <Textarea
            label="Review note"
            description="What the review found: were the calls above justified? (10 characters at least)"
            value={note}
            onChange={(e) => setNote(e.currentTarget.value)}
            autosize
            minRows={2}
          />
          <Button
            loading={review.isPending}
            disabled={noteShort}
            onClick={() => review.mutate({ id, note }, { onSuccess: () => setNote('') })}
          >
            Sign off the review
          </Button>
          {review.error && <ErrorNote error={review.error} title="Review not signed off" />}
        </Stack>
      )}
      {grant.review?.reviewedAt && (
        <Alert color="green" variant="light" title={`Reviewed by ${actorName(grant.review.reviewedBy)}`}>
          <When at={grant.review.reviewedAt} />
          <Text size="sm">{grant.review.note}</Text>
        </Alert>
      )}
      {!mayReview &&
        !grant.review?.reviewedAt &&
        grant.status !== 'pending-approval' &&
        involved(grant, viewer) && (
          <Text size="sm">
            You opened this grant or it covered you, so a different person signs off its review.
          </Text>
        )}
    </Stack>
  );
}

function Calls({ id }: { id: string }) {
  const calls = useGrantCalls(id);
  const rows = calls.data?.calls ?? [];
  return (
    <div>
      <Title order={4} mb="xs">
        Calls made under this grant
      </Title>
      {calls.error && <ErrorNote error={calls.error} title="The calls could not be loaded" />}
      {calls.isPending && <Loader size="sm" />}
      {calls.data && rows.length === 0 && <Text size="sm">No call has used this grant yet.</Text>}
      {rows.length > 0 && (
        <Table.ScrollContainer minWidth={600}>
          <Table striped stickyHeader aria-label="Calls made under this grant">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Time</Table.Th>
                <Table.Th>Principal</Table.Th>
                <Table.Th>Server</Table.Th>
                <Table.Th>Tool</Table.Th>
                <Table.Th>Decision</Table.Th>
                <Table.Th>Outcome</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {rows.map((c) => (
                <Table.Tr key={c.id}>
                  <Table.Td>
                    <When at={c.occurredAt} />
                  </Table.Td>
                  <Table.Td>{c.principal?.name ?? c.principal?.subject}</Table.Td>
                  <Table.Td>{c.server ?? '—'}</Table.Td>
                  <Table.Td>{c.tool ?? c.method}</Table.Td>
                  <Table.Td>{c.decision ?? '—'}</Table.Td>
                  <Table.Td>{c.outcome}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {calls.data?.truncated && <Text size="xs">More calls than shown: see them in Activity.</Text>}
    </div>
  );
}
