import { Anchor, Badge, Paper, SimpleGrid, Table, Text, Title } from '@mantine/core';
import classes from './activity.module.css';
import type { ActivitySummary } from './contracts';
import { toneStyle } from './outcomes';
import { Stamp, utcTime, wallTime } from './time';

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * The answer as one sentence: "alice touched 3 servers, 7 tools and 12 resources between Thu 3
 * Dec 00:00 and Fri 4 Dec 00:00 (Europe/Berlin)", in the words of the API.
 */
export function answerSentence(who: string, summary: ActivitySummary, timeZone: string): string {
  const between = `between ${wallTime(summary.period.from, timeZone)} and ${wallTime(summary.period.to, timeZone)} (${timeZone})`;
  if (summary.calls === 0) return `${who} made no calls ${between}.`;
  const refused = summary.servers.reduce((n, s) => n + s.refused, 0);
  const parts = [
    plural(summary.servers.length, 'server', 'servers'),
    plural(summary.tools.length, 'tool', 'tools'),
    plural(summary.resources.length, 'resource', 'resources'),
  ];
  const touched = `${parts[0]}, ${parts[1]} and ${parts[2]}`;
  const calls = `${plural(summary.calls, 'call', 'calls')}${refused > 0 ? `, ${refused} refused` : ''}`;
  return `${who} touched ${touched} ${between} — ${calls}.`;
}

export function AnswerSentence({
  who,
  summary,
  timeZone,
}: {
  who: string;
  summary: ActivitySummary;
  timeZone: string;
}) {
  return (
    <Title
      order={2}
      fz="h3"
      fw={500}
      data-testid="answer"
      title={`${utcTime(summary.period.from)} → ${utcTime(summary.period.to)}`}
    >
      {answerSentence(who, summary, timeZone)}
    </Title>
  );
}

interface Row {
  key: string;
  cells: string[];
  calls: number;
  refused: number;
  first: string;
  last: string;
  onPick?: () => void;
}

function TouchedTable({ caption, head, rows }: { caption: string; head: string[]; rows: Row[] }) {
  return (
    <Paper withBorder p="xs">
      <Text fw={600} size="sm" mb={4}>
        {caption}{' '}
        <Badge size="xs" variant="light" className={classes.tone} style={toneStyle('indigo')}>
          {rows.length}
        </Badge>
      </Text>
      <Table.ScrollContainer minWidth={360} maxHeight={260}>
        <Table
          striped
          highlightOnHover
          stickyHeader
          verticalSpacing={2}
          fz="xs"
          aria-label={caption}
          style={{ whiteSpace: 'nowrap' }}
        >
          <Table.Thead>
            <Table.Tr>
              {head.map((h) => (
                <Table.Th key={h}>{h}</Table.Th>
              ))}
              <Table.Th ta="right">calls</Table.Th>
              <Table.Th ta="right">refused</Table.Th>
              <Table.Th>first</Table.Th>
              <Table.Th>last</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((r) => (
              <Table.Tr key={r.key}>
                {r.cells.map((c, i) => (
                  <Table.Td key={i} ff="monospace">
                    {i === r.cells.length - 1 && r.onPick ? (
                      <Anchor
                        component="button"
                        type="button"
                        fz="xs"
                        ff="monospace"
                        className={classes.link}
                        onClick={r.onPick}
                      >
                        {c}
                      </Anchor>
                    ) : (
                      c
                    )}
                  </Table.Td>
                ))}
                <Table.Td ta="right">{r.calls}</Table.Td>
                <Table.Td
                  ta="right"
                  c={r.refused > 0 ? 'red' : undefined}
                  fw={r.refused > 0 ? 600 : undefined}
                >
                  {r.refused}
                </Table.Td>
                <Table.Td>
                  <Stamp at={r.first} />
                </Table.Td>
                <Table.Td>
                  <Stamp at={r.last} />
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    </Paper>
  );
}

/** Servers, tools and resources touched, with counts, refused counts and first/last time. */
export function Touched({
  summary,
  onFilter,
}: {
  summary: ActivitySummary;
  onFilter: (patch: { server?: string; tool?: string }) => void;
}) {
  const entry = (e: { calls: number; refused: number; first: string; last: string }) => ({
    calls: e.calls,
    refused: e.refused,
    first: e.first,
    last: e.last,
  });
  return (
    <SimpleGrid cols={{ base: 1, xl: 3 }} spacing="sm">
      <TouchedTable
        caption="servers"
        head={['server']}
        rows={summary.servers.map((s) => ({
          key: s.server,
          cells: [s.server],
          ...entry(s),
          onPick: () => onFilter({ server: s.server, tool: '' }),
        }))}
      />
      <TouchedTable
        caption="tools"
        head={['server', 'tool']}
        rows={summary.tools.map((t) => ({
          key: `${t.server}/${t.tool}`,
          cells: [t.server, t.tool],
          ...entry(t),
          onPick: () => onFilter({ server: t.server, tool: t.tool }),
        }))}
      />
      <TouchedTable
        caption="resources"
        head={['server', 'resource']}
        rows={summary.resources.map((r) => ({
          key: `${r.server}/${r.resource}`,
          cells: [r.server, r.resource],
          ...entry(r),
        }))}
      />
    </SimpleGrid>
  );
}
