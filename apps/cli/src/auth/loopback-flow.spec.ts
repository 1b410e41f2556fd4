import { LoginErrorCode } from './errors';
import { startLoopbackReceiver, type LoopbackReceiver } from './loopback-flow';

/** The one-shot loopback listener of the browser sign-in (RFC 8252), driven over real HTTP. */
describe('loopback redirect receiver', () => {
  const receivers: LoopbackReceiver[] = [];

  async function start(state = 'expected-state', timeoutMs = 30_000, signal?: AbortSignal) {
    const receiver = await startLoopbackReceiver(state, timeoutMs, signal);
    receivers.push(receiver);
    return receiver;
  }

  afterEach(async () => {
    for (const receiver of receivers.splice(0)) await receiver.close();
  });

  it('listens on 127.0.0.1 on a random port at /callback', async () => {
    const first = await start();
    const second = await start();

    expect(first.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(second.redirectUri).not.toBe(first.redirectUri);
  });

  it('takes the callback carrying its state and a code, thanks the browser, then stops listening', async () => {
    const receiver = await start();

    const page = await fetch(`${receiver.redirectUri}?code=abc&state=expected-state`);

    expect(page.status).toBe(200);
    expect(await page.text()).toContain('You can close this tab');
    const callback = await receiver.callback;
    expect(callback.searchParams.get('code')).toBe('abc');
    expect(callback.href.startsWith(receiver.redirectUri)).toBe(true);
    await expect(fetch(`${receiver.redirectUri}?code=again&state=expected-state`)).rejects.toThrow();
  });

  it.each([
    ['a foreign state', '?code=abc&state=someone-elses'],
    ['no state', '?code=abc'],
    ['a state that only starts alike', '?code=abc&state=expected-state-and-more'],
  ])('refuses a callback with %s and ends the login (login CSRF)', async (_what, query) => {
    const receiver = await start();

    const page = await fetch(`${receiver.redirectUri}${query}`);

    expect(page.status).toBe(400);
    await expect(receiver.callback).rejects.toMatchObject({ code: LoginErrorCode.STATE_MISMATCH });
    await expect(receiver.callback).rejects.toThrow(/did not start \(state mismatch\)/);
    await expect(fetch(`${receiver.redirectUri}?code=abc&state=expected-state`)).rejects.toThrow();
  });

  it('ends the login with the reason when the IdP sends the person back with an error', async () => {
    const receiver = await start();

    await fetch(
      `${receiver.redirectUri}?error=access_denied&error_description=the+user+cancelled&state=expected-state`,
    );

    await expect(receiver.callback).rejects.toMatchObject({ code: LoginErrorCode.ACCESS_DENIED });
    await expect(receiver.callback).rejects.toThrow('access_denied (the user cancelled)');
  });

  it('answers 404 to other paths and keeps waiting for the callback', async () => {
    const receiver = await start();

    const favicon = await fetch(new URL('/favicon.ico', receiver.redirectUri));
    const page = await fetch(`${receiver.redirectUri}?code=abc&state=expected-state`);

    expect(favicon.status).toBe(404);
    expect(page.status).toBe(200);
    await expect(receiver.callback).resolves.toBeInstanceOf(URL);
  });

  it('gives up when nothing comes back in time, and stops listening', async () => {
    const receiver = await start('expected-state', 300);

    await expect(receiver.callback).rejects.toMatchObject({ code: LoginErrorCode.EXPIRED });
    await expect(receiver.callback).rejects.toThrow(/no sign-in came back from the browser within 300 ms/);
    await expect(fetch(`${receiver.redirectUri}?code=abc&state=expected-state`)).rejects.toThrow();
  });

  it('stops when the person presses Ctrl-C', async () => {
    const stop = new AbortController();
    const receiver = await start('expected-state', 30_000, stop.signal);

    stop.abort();

    await expect(receiver.callback).rejects.toMatchObject({ code: LoginErrorCode.CANCELLED });
  });
});
