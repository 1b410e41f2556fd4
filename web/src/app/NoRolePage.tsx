import { Card, Code, Container, List, Stack, Table, Text, Title } from '@mantine/core';
import { SignOutButton, WhoAmI } from './UserMenu';
import type { Me } from './session';

/** What each console role is for, in the console brief's words. */
export const ROLE_DESCRIPTIONS: Array<{ role: string; job: string; screens: string }> = [
  {
    role: 'auditor',
    job: 'What did a user touch, and when; export it and prove it was not altered',
    screens: 'Overview, Activity, Break glass (read-only)',
  },
  {
    role: 'incident-responder',
    job: 'Open a time-boxed bypass, watch it, revoke it',
    screens: 'Overview, Break glass',
  },
  {
    role: 'policy-approver',
    job: 'Approve policy changes someone else proposed',
    screens: 'Overview, Policies',
  },
  { role: 'admin', job: 'Everything above, and change who may do what', screens: 'every screen' },
];

/**
 * A signed-in person without a console role: which roles exist, what they are for, and who
 * grants them. Never a broken screen.
 */
export function NoRolePage({ me }: { me: Me }) {
  return (
    <Container size="md" py="xl">
      <Stack gap="lg">
        <div>
          <Title order={1} size="h2">
            You are signed in, but have no console role
          </Title>
          <Text mt="xs">
            The Gatehouse console shows its screens to people who hold one of the roles below. Your account
            holds none of them, so there is nothing here for you yet; the gateway itself keeps working for you
            as before.
          </Text>
        </div>
        <Card withBorder>
          <WhoAmI me={me} />
        </Card>
        <div>
          <Title order={2} size="h4" mb="xs">
            Console roles
          </Title>
          <Table withTableBorder>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Role</Table.Th>
                <Table.Th>For</Table.Th>
                <Table.Th>Screens</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {ROLE_DESCRIPTIONS.map((r) => (
                <Table.Tr key={r.role}>
                  <Table.Td>
                    <Code>{r.role}</Code>
                  </Table.Td>
                  <Table.Td>{r.job}</Table.Td>
                  <Table.Td>{r.screens}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </div>
        <div>
          <Title order={2} size="h4" mb="xs">
            Who grants them
          </Title>
          <List spacing={4}>
            <List.Item>
              Roles come from your groups at your identity provider: the gateway&apos;s configuration maps
              groups to roles (<Code>auth.roles</Code> in <Code>gatehouse.yaml</Code>).
            </List.Item>
            <List.Item>
              Ask your Gatehouse administrator (someone with the <Code>admin</Code> role) or your identity
              team to add you to a group mapped to the role you need, then sign in again.
            </List.Item>
            <List.Item>
              The roles and screens are described in <Code>docs/console.md</Code> of the Gatehouse repository.
            </List.Item>
          </List>
        </div>
        <div>
          <SignOutButton me={me} variant="default" />
        </div>
      </Stack>
    </Container>
  );
}
