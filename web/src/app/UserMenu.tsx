import { Avatar, Badge, Button, Group, Menu, Stack, Text, UnstyledButton } from '@mantine/core';
import { useState } from 'react';
import { ApiErrorAlert } from '../components/ApiErrorAlert';
import { Time } from '../components/Time';
import { consoleRoles } from './nav';
import { signOut, type Me } from './session';

function initials(me: Me): string {
  const source = me.name ?? me.email ?? me.sub;
  return source
    .split(/[\s@.]+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0]?.toUpperCase() ?? '')
    .join('');
}

/** Who is signed in: the details, and sign out. */
export function WhoAmI({ me }: { me: Me }) {
  const roles = consoleRoles(me.roles);
  return (
    <Stack gap={4} data-testid="who-am-i">
      <Text fw={600}>{me.name ?? me.sub}</Text>
      {me.email ? (
        <Text size="sm" c="dimmed">
          {me.email}
        </Text>
      ) : null}
      <Text size="xs" c="dimmed">
        Identity-provider groups: {me.groups.length > 0 ? me.groups.join(', ') : 'none'}
      </Text>
      <Group gap={4}>
        <Text size="xs" c="dimmed">
          Console roles:
        </Text>
        {roles.length > 0 ? (
          roles.map((r) => (
            <Badge key={r} size="sm" variant="light">
              {r}
            </Badge>
          ))
        ) : (
          <Text size="xs">none</Text>
        )}
      </Group>
      {me.session ? (
        <Text size="xs" c="dimmed">
          Session ends <Time value={me.session.expiresAt} />, or after an idle hour (next:{' '}
          <Time value={me.session.idleExpiresAt} />)
        </Text>
      ) : null}
    </Stack>
  );
}

export function SignOutButton({ me, ...props }: { me: Me; variant?: string; fullWidth?: boolean }) {
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  return (
    <Stack gap="xs">
      <Button
        {...props}
        loading={busy}
        onClick={() => {
          setBusy(true);
          signOut(me.csrfToken).catch((err: unknown) => {
            setBusy(false);
            setError(err);
          });
        }}
      >
        Sign out
      </Button>
      {error ? <ApiErrorAlert error={error} /> : null}
    </Stack>
  );
}

/** The avatar in the header: who-am-I and sign out. */
export function UserMenu({ me }: { me: Me }) {
  return (
    <Menu position="bottom-end" width={320} withArrow shadow="md" closeOnItemClick={false}>
      <Menu.Target>
        <UnstyledButton aria-label={`Account: ${me.name ?? me.sub}`} data-testid="user-menu">
          <Group gap="xs">
            <Avatar radius="xl" size="sm" color="indigo">
              {initials(me)}
            </Avatar>
            <Text size="sm" visibleFrom="sm">
              {me.name ?? me.sub}
            </Text>
          </Group>
        </UnstyledButton>
      </Menu.Target>
      <Menu.Dropdown p="sm">
        <WhoAmI me={me} />
        <Menu.Divider my="sm" />
        <SignOutButton me={me} variant="default" fullWidth />
      </Menu.Dropdown>
    </Menu>
  );
}
