import { Badge, Code, Drawer, Group, Stack, Table, Text, Title } from '@mantine/core';
import type { ReactNode } from 'react';
import type { AuditEvent } from './contracts';
import classes from './activity.module.css';
import { OutcomeBadge, toneStyle } from './outcomes';
import { Stamp } from './time';

const us = (v: number | null | undefined) =>
  v === null || v === undefined ? '—' : `${(v / 1000).toFixed(1)} ms`;
const dash = (v: string | number | null | undefined) =>
  v === null || v === undefined || v === '' ? '—' : String(v);

function Json({ value }: { value: unknown }) {
  if (value === null || value === undefined) return <Text size="xs">—</Text>;
  return (
    <Code block fz="xs" tabIndex={0} style={{ maxHeight: 240, overflow: 'auto' }}>
      {JSON.stringify(value, null, 2)}
    </Code>
  );
}

/** The whole audit record, field names as the API and exports spell them. */
export function EventDrawer({ event, onClose }: { event: AuditEvent | null; onClose: () => void }) {
  const rows: Array<[string, ReactNode]> = event
    ? [
        ['id', <Code key="id">{event.id}</Code>],
        ['kind', event.kind],
        ['callId', <Code key="c">{event.callId}</Code>],
        ['occurredAt', <Stamp key="t" at={event.occurredAt} seconds />],
        ['outcome', <OutcomeBadge key="o" outcome={event.outcome} />],
        ['decision', dash(event.decision)],
        [
          'principal',
          `${event.principal.subject}${event.principal.name ? ` (${event.principal.name})` : ''}${event.principal.email ? ` <${event.principal.email}>` : ''}`,
        ],
        ['principal.groups', event.principal.groups.join(', ') || '—'],
        ['principal.certificateSubject', dash(event.principal.certificateSubject)],
        [
          'client',
          [
            event.client.name,
            event.client.version,
            event.client.bridgeVersion ? `bridge ${event.client.bridgeVersion}` : '',
            event.client.ip,
          ]
            .filter(Boolean)
            .join(' · ') || '—',
        ],
        ['session', dash(event.session)],
        ['server', dash(event.server)],
        ['tool', dash(event.tool)],
        ['method', event.method],
        ['action', dash(event.action)],
        ['touched', (event.touched ?? []).join(', ') || '—'],
        [
          'matchedRules',
          (event.matchedRules ?? []).length ? (
            <Group gap={4} key="r">
              {(event.matchedRules ?? []).map((r) => (
                <Badge
                  key={r}
                  size="xs"
                  variant="light"
                  tt="none"
                  className={classes.tone}
                  style={toneStyle('indigo')}
                >
                  {r}
                </Badge>
              ))}
            </Group>
          ) : (
            '—'
          ),
        ],
        ['policyVersion', dash(event.policyVersion)],
        ['bypassId', event.bypassId ? <Code key="b">{event.bypassId}</Code> : '—'],
        ['errorCode', dash(event.errorCode)],
        ['errorMessage', dash(event.errorMessage)],
        ['gatewayUs', us(event.gatewayUs)],
        ['upstreamUs', us(event.upstreamUs)],
        ['responseBytes', dash(event.responseBytes)],
        ['traceId', event.traceId ? <Code key="tr">{event.traceId}</Code> : '—'],
        ['adminAction', dash(event.adminAction)],
        ['adminTarget', dash(event.adminTarget)],
        ['writerId', dash(event.writerId)],
        ['seq', dash(event.seq)],
        [
          'hash',
          event.hash ? (
            <Code key="h" fz="xs">
              {event.hash}
            </Code>
          ) : (
            '—'
          ),
        ],
      ]
    : [];
  return (
    <Drawer
      opened={event !== null}
      onClose={onClose}
      position="right"
      size="lg"
      closeButtonProps={{ 'aria-label': 'Close the record' }}
      title={event ? `${event.kind} record · ${event.server ?? ''} ${event.tool ?? event.method}` : 'record'}
    >
      {event ? (
        <Stack gap="sm" data-testid="event-detail">
          <Table verticalSpacing={2} fz="xs" withRowBorders aria-label="audit record">
            <Table.Tbody>
              {rows.map(([k, v]) => (
                <Table.Tr key={k}>
                  <Table.Th w={190} ff="monospace" fw={500}>
                    {k}
                  </Table.Th>
                  <Table.Td style={{ wordBreak: 'break-all' }}>{v}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          <Title order={4} fz="sm">
            arguments (redacted)
          </Title>
          <Json value={event.arguments} />
          <Title order={4} fz="sm">
            rateLimit
          </Title>
          <Json value={event.rateLimit} />
          <Title order={4} fz="sm">
            whole record
          </Title>
          <Json value={event} />
        </Stack>
      ) : null}
    </Drawer>
  );
}
