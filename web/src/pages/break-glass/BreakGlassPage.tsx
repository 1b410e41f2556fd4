import {
  Alert,
  Badge,
  Button,
  Group,
  Loader,
  MantineThemeProvider,
  Paper,
  Stack,
  Text,
  Title,
  createTheme,
} from '@mantine/core';
import { useState, type ReactNode } from 'react';
import { useSearchParams } from 'react-router';
import { openGrant, useGrantLimits, useGrants, useInvalidateGrants, useViewer } from './api';
import { ErrorNote } from './ErrorNote';
import { GrantDialog } from './GrantDialog';
import { GrantDrawer } from './GrantDrawer';
import { GrantTable } from './GrantTable';
import { canWrite, type Grant, type Viewer } from './words';

/**
 * Break glass (incident responder, admin; auditors read and review): one red button opens a
 * time-boxed bypass with a reason; the lists below refresh every few seconds. The open grant is in
 * the URL (`?grant=<id>`), so a link to it can be shared.
 */
export function BreakGlassPage() {
  const viewer = useViewer();
  if (viewer.error) return <ErrorNote error={viewer.error} title="Who you are could not be loaded" />;
  if (!viewer.data) return <Loader />;
  return (
    <MantineThemeProvider theme={readable}>
      <BreakGlass viewer={viewer.data} />
    </MantineThemeProvider>
  );
}

/**
 * Field descriptions and divider labels in the text colour: Mantine's dimmed grey (#868e96) fails axe's contrast
 * check on white. (Better fixed in the shell's theme for every screen.)
 */
const readable = createTheme({
  components: {
    InputWrapper: { styles: { description: { color: 'var(--mantine-color-text)' } } },
    Divider: { styles: { label: { color: 'var(--mantine-color-text)' } } },
  },
});

function byDue(a: Grant, b: Grant): number {
  const overdue = Number(b.review?.overdue ?? false) - Number(a.review?.overdue ?? false);
  if (overdue !== 0) return overdue;
  return (a.review?.dueAt ?? '').localeCompare(b.review?.dueAt ?? '');
}

function BreakGlass({ viewer }: { viewer: Viewer }) {
  const limits = useGrantLimits();
  const grants = useGrants();
  const invalidate = useInvalidateGrants();
  const [dialog, setDialog] = useState(false);
  const [params, setParams] = useSearchParams();
  const selected = params.get('grant');
  const select = (id: string | null) =>
    setParams(
      (p) => {
        const next = new URLSearchParams(p);
        if (id) next.set('grant', id);
        else next.delete('grant');
        return next;
      },
      { replace: false },
    );
  const writer = canWrite(viewer);

  const all = grants.data ?? [];
  const active = all.filter((g) => g.status === 'active');
  const pending = all.filter((g) => g.status === 'pending-approval');
  const queue = all.filter((g) => g.review?.required && !g.review.reviewedAt).sort(byDue);
  const overdue = queue.filter((g) => g.review?.overdue).length;
  const ended = all.filter((g) => g.status === 'expired' || g.status === 'revoked');

  return (
    <Stack gap="lg">
      <Group justify="space-between" align="flex-start">
        <div>
          <Title order={2}>Break glass</Title>
          <Text size="sm" maw={640}>
            A bypass lifts policy denies for a few people, a few servers and a short time, with a reason.
            Every call stays in the audit trail, and a different person reviews it afterwards.
          </Text>
        </div>
        {writer && (
          <Button color="red.9" size="lg" onClick={() => setDialog(true)}>
            Break glass
          </Button>
        )}
      </Group>
      {!writer && (
        <Alert variant="light" color="gray">
          You can read the grants and sign off reviews. Opening, approving and revoking a bypass needs the
          incident-responder or admin role.
        </Alert>
      )}
      {grants.error && <ErrorNote error={grants.error} title="The grants could not be loaded" />}
      {grants.isPending && <Loader size="sm" />}

      <Section title="Active" count={active.length}>
        <GrantTable grants={active} onOpen={select} caption="Active grants" empty="No bypass is in effect." />
      </Section>
      <Section title="Pending approval" count={pending.length}>
        <GrantTable
          grants={pending}
          onOpen={select}
          caption="Grants pending approval"
          empty="No grant is waiting for approval."
        />
      </Section>
      <Section
        title="Review queue"
        count={queue.length}
        extra={
          overdue > 0 ? (
            <Badge color="red.9" variant="filled">
              {overdue} overdue
            </Badge>
          ) : null
        }
      >
        <GrantTable
          grants={queue}
          onOpen={select}
          caption="Grants waiting for their review"
          empty="Every grant has been reviewed."
          review
        />
      </Section>
      <Section title="Expired and revoked" count={ended.length}>
        <GrantTable grants={ended} onOpen={select} caption="Expired and revoked grants" empty="None yet." />
      </Section>

      {writer && (
        <GrantDialog
          // Remounted once the gateway's durations arrive, so the default stated is the configured one.
          key={limits ? 'configured' : 'documented'}
          {...(limits ? { limits } : {})}
          opened={dialog}
          onClose={() => setDialog(false)}
          viewer={viewer}
          onSubmit={openGrant}
          onOpened={(g) => {
            void invalidate();
            if (g.id) select(g.id);
          }}
        />
      )}
      <GrantDrawer id={selected} viewer={viewer} onClose={() => select(null)} />
    </Stack>
  );
}

function Section({
  title,
  count,
  extra,
  children,
}: {
  title: string;
  count: number;
  extra?: ReactNode;
  children: ReactNode;
}) {
  return (
    <Paper withBorder p="md" component="section" aria-label={title}>
      <Group gap="xs" mb="sm">
        <Title order={3}>{title}</Title>
        <Badge variant="default">{count}</Badge>
        {extra}
      </Group>
      {children}
    </Paper>
  );
}
