import { afterEach, beforeEach, expect, jest, test } from '@jest/globals';
import { MantineProvider } from '@mantine/core';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { PeriodBox } from './PeriodBox';

/**
 * The period box against a stubbed `fetch` (a component test: the real endpoint is exercised by
 * the Activity journey). The stub answers like `GET /api/v1/audit/period`.
 */
type Call = { url: URL };
let calls: Call[];
const realFetch = globalThis.fetch;

function answer(status: number, body: unknown) {
  return Promise.resolve({
    ok: status >= 200 && status < 300,
    status,
    statusText: status === 200 ? 'OK' : 'Bad Request',
    json: () => Promise.resolve(body),
  } as unknown as Response);
}

beforeEach(() => {
  calls = [];
  globalThis.fetch = jest.fn((input: string) => {
    // getJson asks with a relative URL string.
    const url = new URL(input, 'http://127.0.0.1:8080');
    calls.push({ url });
    const phrase = url.searchParams.get('phrase') ?? '';
    if (url.pathname !== '/api/v1/audit/period')
      return answer(404, { error: { code: 'NOT_FOUND', message: 'no route' } });
    if (phrase === 'last Thursday') {
      return answer(200, {
        phrase,
        tz: url.searchParams.get('tz'),
        from: '2026-12-02T23:00:00.000Z',
        to: '2026-12-03T23:00:00.000Z',
      });
    }
    if (phrase === 'yesterday 9-17') {
      return answer(200, {
        phrase,
        tz: 'Europe/Berlin',
        from: '2026-12-07T08:00:00.000Z',
        to: '2026-12-07T16:00:00.000Z',
      });
    }
    if (phrase === 'boom')
      return answer(503, { error: { code: 'AUDIT_UNAVAILABLE', message: 'try again shortly' } });
    return answer(400, {
      error: {
        code: 'PERIOD_UNREADABLE',
        message: `cannot read "${phrase}" as a period`,
        suggestions: ['last Thursday', 'yesterday 9-17'],
      },
    });
  }) as unknown as typeof fetch;
});

afterEach(() => {
  globalThis.fetch = realFetch;
});

function renderBox(onRun: (phrase: string) => void = () => undefined, value = '') {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <MantineProvider>
      <QueryClientProvider client={client}>
        <PeriodBox value={value} timeZone="Europe/Berlin" onRun={onRun} />
      </QueryClientProvider>
    </MantineProvider>,
  );
}

const input = () => screen.getByRole<HTMLInputElement>('textbox', { name: /Period/ });

test('resolves a phrase in the viewer time zone and shows the range before anything runs', async () => {
  const onRun = jest.fn<(phrase: string) => void>();
  renderBox(onRun);
  fireEvent.change(input(), { target: { value: 'last Thursday' } });
  const range = await screen.findByTestId('period-range');
  // 2026-12-02T23:00Z is Thu 3 Dec 00:00 in Berlin; the range is named in that zone.
  expect(range.textContent).toBe('Thu 3 Dec 00:00 → Fri 4 Dec 00:00 (Europe/Berlin)');
  expect(range.getAttribute('title')).toBe('2026-12-02T23:00:00Z (UTC) → 2026-12-03T23:00:00Z (UTC)');
  const asked = calls.at(-1)?.url;
  expect(asked?.searchParams.get('phrase')).toBe('last Thursday');
  expect(asked?.searchParams.get('tz')).toBe('Europe/Berlin');
  // Nothing ran yet: only the resolution was asked.
  expect(onRun).not.toHaveBeenCalled();
  fireEvent.click(screen.getByRole('button', { name: 'Show activity' }));
  expect(onRun).toHaveBeenCalledWith('last Thursday');
});

test('debounces typing: one question for the phrase as finally typed', async () => {
  renderBox();
  for (const partial of ['y', 'ye', 'yesterday', 'yesterday 9-17']) {
    fireEvent.change(input(), { target: { value: partial } });
  }
  const range = await screen.findByTestId('period-range');
  expect(range.textContent).toBe('Mon 7 Dec 09:00 → Mon 7 Dec 17:00 (Europe/Berlin)');
  expect(calls.map((c) => c.url.searchParams.get('phrase'))).toEqual(['yesterday 9-17']);
});

test('an unreadable phrase shows the server code, message and suggestions, keeps the text and cannot run', async () => {
  const onRun = jest.fn<(phrase: string) => void>();
  renderBox(onRun);
  fireEvent.change(input(), { target: { value: 'the day the music died' } });
  expect(
    await screen.findByText('PERIOD_UNREADABLE: cannot read "the day the music died" as a period'),
  ).toBeTruthy();
  expect(input().value).toBe('the day the music died');
  expect(screen.queryByTestId('period-range')).toBeNull();
  expect(screen.getByRole<HTMLButtonElement>('button', { name: 'Show activity' }).disabled).toBe(true);
  fireEvent.submit(input().closest('form') as HTMLFormElement);
  expect(onRun).not.toHaveBeenCalled();

  // A suggestion fills the box, which then resolves.
  fireEvent.click(screen.getByRole('button', { name: 'yesterday 9-17' }));
  expect(input().value).toBe('yesterday 9-17');
  await waitFor(() =>
    expect(screen.getByTestId('period-range').textContent).toBe(
      'Mon 7 Dec 09:00 → Mon 7 Dec 17:00 (Europe/Berlin)',
    ),
  );
  expect(screen.queryByText(/PERIOD_UNREADABLE/)).toBeNull();
});

test('a gateway failure says what to do next and keeps what was typed', async () => {
  renderBox();
  fireEvent.change(input(), { target: { value: 'boom' } });
  expect(
    await screen.findByText(/AUDIT_UNAVAILABLE: try again shortly — This is usually temporary/),
  ).toBeTruthy();
  expect(input().value).toBe('boom');
});

test('a period from a shared link is shown resolved on load', async () => {
  renderBox(undefined, 'last Thursday');
  expect(input().value).toBe('last Thursday');
  expect((await screen.findByTestId('period-range')).textContent).toBe(
    'Thu 3 Dec 00:00 → Fri 4 Dec 00:00 (Europe/Berlin)',
  );
});
