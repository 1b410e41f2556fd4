import {
  ActionIcon,
  AppShell,
  Badge,
  Center,
  Container,
  Group,
  Loader,
  NavLink,
  Stack,
  Text,
  Title,
  useComputedColorScheme,
  useMantineColorScheme,
} from '@mantine/core';
import { lazy, Suspense, type ReactNode } from 'react';
import { NavLink as RouterLink, Route, Routes, useLocation } from 'react-router';
import { ApiError } from '../api/client';
import { ApiErrorAlert } from '../components/ApiErrorAlert';
import { GatewayDownBanner } from '../components/GatewayDownBanner';
import { OverviewPage } from '../pages/overview/OverviewPage';
import { consoleRoles, mayOpen, navFor, readOnlyFor, rolesInWords, SCREENS, type Screen } from './nav';
import { NoRolePage } from './NoRolePage';
import { goToSignIn, isUnauthenticated, useMe, type Me } from './session';
import { UserMenu } from './UserMenu';

// Screens other than the overview load when first opened, keeping the first load small.
const ActivityPage = lazy(() =>
  import('../pages/activity/ActivityPage').then((m) => ({ default: m.ActivityPage })),
);
const BreakGlassPage = lazy(() =>
  import('../pages/break-glass/BreakGlassPage').then((m) => ({ default: m.BreakGlassPage })),
);

/** Light/dark toggle; the first choice follows the system (Mantine's auto scheme). */
export function ColorSchemeToggle() {
  const { setColorScheme } = useMantineColorScheme();
  const computed = useComputedColorScheme('light', { getInitialValueInEffect: false });
  const next = computed === 'dark' ? 'light' : 'dark';
  return (
    <ActionIcon
      variant="default"
      size="lg"
      aria-label={`Switch to the ${next} theme`}
      title={`Switch to the ${next} theme`}
      onClick={() => setColorScheme(next)}
    >
      <span aria-hidden="true">{computed === 'dark' ? '☀' : '☾'}</span>
    </ActionIcon>
  );
}

function screenFor(path: string): Screen {
  const screen = SCREENS.find((s) => s.path === path);
  if (!screen) throw new Error(`no screen ${path}`);
  return screen;
}

/** A screen the person's roles do not open: say which role would, as the server would. */
function Guarded({ path, me, children }: { path: string; me: Me; children: ReactNode }) {
  const screen = screenFor(path);
  if (!mayOpen(screen, me.roles)) {
    return (
      <Container size="sm" py="xl">
        <ApiErrorAlert
          error={
            new ApiError(403, {
              code: 'ROLE_REQUIRED',
              message: `this screen needs the console role ${rolesInWords(screen.roles)}; you have ${consoleRoles(me.roles).join(', ')}`,
            })
          }
          neededRoles={rolesInWords(screen.roles)}
        />
      </Container>
    );
  }
  return <>{children}</>;
}

function ComingSoon({ what }: { what: string }) {
  return (
    <Stack>
      <Title order={1} size="h3">
        {what}
      </Title>
      <Text>Coming soon: policies in the browser follow in the next console release (issue 12).</Text>
    </Stack>
  );
}

function NotFound() {
  const location = useLocation();
  return (
    <Stack>
      <Title order={1} size="h3">
        No such screen
      </Title>
      <Text>
        Nothing lives at <code>/console{location.pathname}</code>. Pick a screen on the left.
      </Text>
    </Stack>
  );
}

function FullPage({ children }: { children: ReactNode }) {
  return (
    <Center mih="100vh" p="md">
      <Stack align="center" maw={560}>
        {children}
      </Stack>
    </Center>
  );
}

/** The console: who is signed in decides what is shown. */
export function Shell() {
  const me = useMe();
  if (me.isPending) {
    return (
      <FullPage>
        <Loader aria-label="Loading" />
      </FullPage>
    );
  }
  if (me.isError) {
    if (isUnauthenticated(me.error)) {
      return (
        <FullPage>
          <Loader aria-label="Signing in" />
          <Text>Taking you to sign in…</Text>
        </FullPage>
      );
    }
    return (
      <>
        <GatewayDownBanner />
        <FullPage>
          <Title order={1} size="h3">
            Gatehouse console
          </Title>
          <ApiErrorAlert error={me.error} onRetry={() => void me.refetch()} onSignIn={goToSignIn} />
        </FullPage>
      </>
    );
  }
  if (consoleRoles(me.data.roles).length === 0) return <NoRolePage me={me.data} />;
  return <Layout me={me.data} />;
}

function Layout({ me }: { me: Me }) {
  const nav = navFor(me.roles);
  return (
    <AppShell header={{ height: 52 }} navbar={{ width: 220, breakpoint: 'sm' }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="xs">
            <Text fw={700} size="lg" component="span">
              Gatehouse
            </Text>
            <Text c="dimmed" size="sm" component="span">
              console
            </Text>
          </Group>
          <Group gap="sm">
            <ColorSchemeToggle />
            <UserMenu me={me} />
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Screens">
        {nav.map((screen) => (
          <NavLink
            key={screen.path}
            component={RouterLink}
            to={screen.path}
            end={screen.path === '/'}
            label={screen.label}
            rightSection={
              screen.comingSoon ? (
                <Badge size="xs" variant="light" color="gray">
                  soon
                </Badge>
              ) : readOnlyFor(screen, me.roles) ? (
                <Badge size="xs" variant="light" color="gray">
                  read-only
                </Badge>
              ) : undefined
            }
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <Stack gap="md">
          <GatewayDownBanner />
          <Suspense fallback={<Loader aria-label="Loading" />}>
            <Routes>
              <Route path="/" element={<OverviewPage />} />
              <Route
                path="/activity/*"
                element={
                  <Guarded path="/activity" me={me}>
                    <ActivityPage />
                  </Guarded>
                }
              />
              <Route
                path="/break-glass/*"
                element={
                  <Guarded path="/break-glass" me={me}>
                    <BreakGlassPage />
                  </Guarded>
                }
              />
              <Route
                path="/policies/*"
                element={
                  <Guarded path="/policies" me={me}>
                    <ComingSoon what="Policies" />
                  </Guarded>
                }
              />
              <Route path="*" element={<NotFound />} />
            </Routes>
          </Suspense>
        </Stack>
      </AppShell.Main>
    </AppShell>
  );
}
