import { expect, jest, test } from '@jest/globals';

jest.setTimeout(30_000);
import { MantineProvider } from '@mantine/core';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { ApiError } from '../../api/client';
import { GrantDialog } from './GrantDialog';
import type { GrantDetail, GrantLimits, OpenGrantBody, Viewer } from './words';

const erin: Viewer = { sub: 'erin', name: 'Erin Evans', roles: ['incident-responder'] };
const REASON = 'INC-4521: payments DB failover, the deny on write_file blocks the restore';

function setup(onSubmit: (body: OpenGrantBody) => Promise<GrantDetail>, limits?: GrantLimits) {
  const onClose = jest.fn();
  const onOpened = jest.fn();
  render(
    <MantineProvider>
      <GrantDialog
        opened
        onClose={onClose}
        viewer={erin}
        onSubmit={onSubmit}
        onOpened={onOpened}
        zone="UTC"
        {...(limits ? { limits } : {})}
      />
    </MantineProvider>,
  );
  return { onClose, onOpened, user: userEvent.setup({ delay: null }) };
}

/** Puts text in the reason as a paste: typing 70 characters one by one is slow in jsdom. */
async function typeReason(user: ReturnType<typeof userEvent.setup>, text: string) {
  await user.click(screen.getByLabelText(/Reason/));
  await user.paste(text);
}

const never = () => Promise.reject(new Error('not expected to be sent'));

test('the defaults are stated in words, and the confirm button repeats them', () => {
  setup(never);
  const summary = screen.getByTestId('grant-summary');
  const text = summary.textContent ?? '';
  expect(text).toContain('Lifts policy denies for Erin Evans (you)');
  expect(text).toContain('On all servers and all tools');
  expect(text).toMatch(/For 1 hour: until about \w{3} \d{1,2} \w{3}, \d\d:\d\d \(UTC\)/);
  expect(text).toContain('Rate limits still apply');
  expect(
    screen.getByRole('button', { name: 'Open bypass for Erin Evans (you), all servers, 1 hour' }),
  ).toBeTruthy();
});

test("the gateway's configured durations replace the documented ones in the words and the limits", async () => {
  const { user } = setup(never, { defaultMinutes: 30, maxMinutes: 120, reviewHours: 24 });
  const text = screen.getByTestId('grant-summary').textContent ?? '';
  expect(text).toMatch(/For 30 minutes: until about/);
  expect(text).toContain('reviews it within 24 hours');
  expect(
    screen.getByRole('button', { name: 'Open bypass for Erin Evans (you), all servers, 30 minutes' }),
  ).toBeTruthy();
  await user.click(screen.getByText('Advanced: scope, who is covered, duration, rate limits'));
  expect(screen.getByText('At most 2 hours')).toBeTruthy();
});

test('the confirm button and the request repeat the chosen scope, people, duration and rate limits', async () => {
  const sent: OpenGrantBody[] = [];
  const { user, onOpened, onClose } = setup((body) => {
    sent.push(body);
    return Promise.resolve({ id: '7b0c4a52-8a43-4b43-9f0e-0d6d0f6f2c11' } as GrantDetail);
  });
  await typeReason(user, REASON);
  await user.click(screen.getByText('Advanced: scope, who is covered, duration, rate limits'));
  await user.type(await screen.findByRole('combobox', { name: 'Servers' }), '{backspace}fs{enter}');
  await user.type(screen.getByRole('combobox', { name: 'Tools' }), '{backspace}write_file{enter}');
  await user.click(screen.getByLabelText('Named people or groups'));
  await user.type(screen.getByRole('combobox', { name: 'Users' }), 'bob{enter}');
  const duration = screen.getByLabelText('Duration in minutes');
  await user.clear(duration);
  await user.type(duration, '30');
  await user.click(screen.getByLabelText('Lift rate limits too'));

  const text = screen.getByTestId('grant-summary').textContent ?? '';
  expect(text).toContain('Lifts policy denies for bob');
  expect(text).toContain('On server fs and tool write_file');
  expect(text).toContain('For 30 minutes');
  expect(text).toContain('Rate limits are lifted too');
  const confirm = screen.getByRole('button', {
    name: 'Open bypass for bob, server fs, tool write_file, 30 minutes, rate limits lifted',
  });
  await user.click(confirm);
  expect(sent).toEqual([
    {
      reason: REASON,
      servers: ['fs'],
      tools: ['write_file'],
      users: ['bob'],
      groups: [],
      durationSeconds: 1800,
      liftRateLimits: true,
      requireApproval: false,
    },
  ]);
  expect(onOpened).toHaveBeenCalledTimes(1);
  expect(onClose).toHaveBeenCalledTimes(1);
});

test('a reason is required: nothing is sent without one', async () => {
  const onSubmit = jest.fn(never);
  const { user } = setup(onSubmit);
  await user.click(screen.getByRole('button', { name: /^Open bypass for/ }));
  expect(screen.getByText(/A reason is required/)).toBeTruthy();
  await user.type(screen.getByLabelText(/Reason/), 'db down');
  await user.click(screen.getByRole('button', { name: /^Open bypass for/ }));
  expect(screen.getByText(/A reason needs 20 characters at least \(7 so far\)/)).toBeTruthy();
  expect(onSubmit).not.toHaveBeenCalled();
});

test("a failed submit keeps what was typed and shows the server's code, message and next step", async () => {
  let refuse = true;
  const { user, onOpened, onClose } = setup((body) => {
    if (refuse)
      return Promise.reject(
        new ApiError(400, {
          code: 'INVALID_REQUEST',
          message: 'body.durationSeconds 3600 is over the maximum of 1800 s (0.5 h); open a shorter grant',
        }),
      );
    return Promise.resolve({
      id: '7b0c4a52-8a43-4b43-9f0e-0d6d0f6f2c11',
      reason: body.reason,
    } as GrantDetail);
  });
  await typeReason(user, REASON);
  await user.type(screen.getByLabelText(/Incident reference/), 'INC-4521');
  await user.click(screen.getByRole('button', { name: /^Open bypass for/ }));

  const alert = await screen.findByRole('alert');
  expect(within(alert).getByText(/INVALID_REQUEST/)).toBeTruthy();
  expect(within(alert).getByText(/over the maximum of 1800 s/)).toBeTruthy();
  expect(within(alert).getByText('Change what the message names and confirm again.')).toBeTruthy();
  expect(screen.getByLabelText<HTMLTextAreaElement>(/Reason/).value).toBe(REASON);
  expect(screen.getByLabelText<HTMLInputElement>(/Incident reference/).value).toBe('INC-4521');
  expect(onClose).not.toHaveBeenCalled();

  refuse = false;
  await user.click(screen.getByRole('button', { name: /^Open bypass for/ }));
  expect(onOpened).toHaveBeenCalledTimes(1);
  expect(onClose).toHaveBeenCalledTimes(1);
  expect(screen.queryByRole('alert')).toBeNull();
});

test('a session that ended says to sign in again', async () => {
  const { user } = setup(() =>
    Promise.reject(new ApiError(401, { code: 'SESSION_ENDED', message: 'the console session ended' })),
  );
  await typeReason(user, REASON);
  await user.click(screen.getByRole('button', { name: /^Open bypass for/ }));
  const alert = await screen.findByRole('alert');
  expect(within(alert).getByText(/SESSION_ENDED/)).toBeTruthy();
  expect(within(alert).getByText(/sign in again/)).toBeTruthy();
  expect(screen.getByLabelText<HTMLTextAreaElement>(/Reason/).value).toBe(REASON);
});
