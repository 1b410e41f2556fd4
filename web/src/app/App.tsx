import { MantineProvider } from '@mantine/core';
import { QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { setNonce } from 'get-nonce';
import { BrowserRouter } from 'react-router';
import { ApiError } from '../api/client';
import { goToSignIn } from './session';
import { cssVariablesResolver, theme } from './theme';
import { Shell } from './Shell';

/** The nonce the gateway put in this page's CSP for `<style>` elements (see apps/gateway console). */
export function styleNonce(): string {
  const value = document.querySelector('meta[name="csp-nonce"]')?.getAttribute('content') ?? '';
  return value === '__CSP_NONCE__' ? '' : value;
}

/** A session that ends mid-use: any 401 sends the person to sign in and back to this URL. */
export function makeQueryClient(onUnauthenticated: () => void = goToSignIn): QueryClient {
  return new QueryClient({
    queryCache: new QueryCache({
      onError: (err) => {
        if (err instanceof ApiError && err.status === 401) onUnauthenticated();
      },
    }),
    defaultOptions: {
      queries: {
        // Refusals are answers, not hiccups: only unreachable or failing gateways are retried.
        retry: (count, err) =>
          err instanceof ApiError && err.status > 0 && err.status < 500 ? false : count < 1,
        refetchOnWindowFocus: true,
        staleTime: 5_000,
      },
      mutations: {
        onError: (err) => {
          if (err instanceof ApiError && err.status === 401) onUnauthenticated();
        },
      },
    },
  });
}

const queryClient = makeQueryClient();

/** Providers and the router; every screen lives under /console. */
export function App({ client = queryClient }: { client?: QueryClient }) {
  const nonce = styleNonce();
  // Mantine's scroll lock (react-remove-scroll) writes its own <style> through get-nonce.
  setNonce(nonce);
  return (
    <MantineProvider
      theme={theme}
      defaultColorScheme="auto"
      cssVariablesResolver={cssVariablesResolver}
      getStyleNonce={() => nonce}
    >
      <QueryClientProvider client={client}>
        <BrowserRouter basename="/console">
          <Shell />
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  );
}
