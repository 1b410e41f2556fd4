import { AppShell, Group, NavLink, Title } from '@mantine/core';
import { NavLink as RouterLink, Route, Routes } from 'react-router';

/** Placeholder shell: the foundation work replaces it with sign-in, roles and the real screens. */
export function Shell() {
  return (
    <AppShell header={{ height: 52 }} navbar={{ width: 220, breakpoint: 'sm' }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md">
          <Title order={4}>Gatehouse</Title>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs">
        <NavLink component={RouterLink} to="/" label="Overview" />
        <NavLink component={RouterLink} to="/activity" label="Activity" />
        <NavLink component={RouterLink} to="/break-glass" label="Break glass" />
      </AppShell.Navbar>
      <AppShell.Main>
        <Routes>
          <Route path="/" element={<p>Overview</p>} />
          <Route path="*" element={<p>Not found</p>} />
        </Routes>
      </AppShell.Main>
    </AppShell>
  );
}
