import { afterEach, beforeEach, expect, jest, test } from '@jest/globals';
import { MantineProvider } from '@mantine/core';
import { act, render, screen } from '@testing-library/react';
import { Countdown, remaining } from './Countdown';

const START = new Date('2026-12-08T10:00:00Z');

beforeEach(() => {
  jest.useFakeTimers();
  jest.setSystemTime(START);
});
afterEach(() => {
  jest.useRealTimers();
});

function show(until: Date) {
  render(
    <MantineProvider>
      <Countdown until={until} />
    </MantineProvider>,
  );
  return screen.getByRole('timer');
}

function advance(ms: number) {
  act(() => {
    jest.advanceTimersByTime(ms);
  });
}

test('remaining time reads h:mm:ss, or m:ss under an hour', () => {
  expect(remaining(3_723_000)).toBe('1:02:03');
  expect(remaining(299_000)).toBe('4:59');
  expect(remaining(7_000)).toBe('0:07');
  expect(remaining(-5_000)).toBe('0:00');
});

test('the countdown ticks each second and gives the end in UTC on hover', () => {
  const timer = show(new Date(START.getTime() + 60 * 60_000));
  expect(timer.textContent).toBe('1:00:00 left');
  expect(timer.getAttribute('title')).toBe('ends 2026-12-08T11:00:00Z (UTC)');
  advance(1000);
  expect(timer.textContent).toBe('59:59 left');
  advance(59_000);
  expect(timer.textContent).toBe('59:00 left');
  expect(timer.getAttribute('data-urgent')).toBe('false');
});

test('under five minutes it turns urgent, then reads "expired" and is no longer urgent', () => {
  const timer = show(new Date(START.getTime() + 5 * 60_000 + 2_000));
  expect(timer.textContent).toBe('5:02 left');
  expect(timer.getAttribute('data-urgent')).toBe('false');
  advance(2_000);
  expect(timer.textContent).toBe('5:00 left');
  expect(timer.getAttribute('data-urgent')).toBe('false');
  advance(1_000);
  expect(timer.textContent).toBe('4:59 left');
  expect(timer.getAttribute('data-urgent')).toBe('true');
  advance(4 * 60_000 + 58_000);
  expect(timer.textContent).toBe('0:01 left');
  advance(1_000);
  expect(timer.textContent).toBe('expired');
  expect(timer.getAttribute('data-urgent')).toBe('false');
  advance(10_000);
  expect(timer.textContent).toBe('expired');
});
