import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { closedPort } from '../../../../e2e/support/closed-port';
import { deviceLogin } from './device-flow';
import { LoginErrorCode } from './errors';
import { connectIdp } from './idp';

/** One scripted token endpoint answer: an OAuth error, a server failure, or the tokens. */
type Answer = { error: string; description?: string } | { status: 503 } | 'tokens';

/**
 * A scripted authorization server, over real HTTP, for the polling rules of
 * RFC 8628 §3.5 that the real IdP never exercises: oidc-provider answers
 * neither `slow_down` nor a 503, and its device codes live ten minutes.
 * The happy path against the real development IdP is in e2e/bridge-login.
 */
class ScriptedDeviceServer {
  readonly polls: number[] = [];
  private server!: Server;
  issuer = '';

  constructor(
    private readonly answers: Answer[],
    private readonly device: { expires_in: number; interval: number },
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify(body));
      };
      req.resume();
      req.on('end', () => {
        if (req.url === '/.well-known/openid-configuration') {
          json(200, {
            issuer: this.issuer,
            token_endpoint: `${this.issuer}/token`,
            device_authorization_endpoint: `${this.issuer}/device`,
          });
        } else if (req.url === '/device') {
          json(200, {
            device_code: 'the-device-code',
            user_code: 'WDJB-MJHT',
            verification_uri: `${this.issuer}/activate`,
            verification_uri_complete: `${this.issuer}/activate?user_code=WDJB-MJHT`,
            ...this.device,
          });
        } else if (req.url === '/token') {
          this.polls.push(Date.now());
          const answer = this.answers.shift() ?? 'tokens';
          if (answer === 'tokens') {
            json(200, { access_token: 'an-access-token', token_type: 'Bearer', expires_in: 300 });
          } else if ('status' in answer) {
            res.writeHead(answer.status, { 'content-type': 'text/plain' }).end('overloaded');
          } else {
            json(400, { error: answer.error, error_description: answer.description });
          }
        } else {
          json(404, { error: 'not_found' });
        }
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.issuer = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('device authorization grant polling', () => {
  let idp: ScriptedDeviceServer | undefined;

  afterEach(async () => {
    await idp?.stop();
    idp = undefined;
  });

  async function run(answers: Answer[], device = { expires_in: 60, interval: 1 }) {
    idp = await new ScriptedDeviceServer(answers, device).start();
    const config = await connectIdp(idp.issuer, 'gatehouse-cli');
    let said = '';
    const result = deviceLogin(
      config,
      {
        gateway: 'https://gw.example.com',
        scope: 'openid offline_access',
        resource: 'https://gw.example.com/mcp',
      },
      (text) => (said += text),
    );
    return { result, said: () => said, polls: idp.polls };
  }

  it('shows the address, the code and the complete link, and polls until the person approves', async () => {
    const { result, said, polls } = await run([
      { error: 'authorization_pending' },
      { error: 'authorization_pending' },
    ]);

    await expect(result).resolves.toMatchObject({ access_token: 'an-access-token' });
    expect(polls).toHaveLength(3);
    expect(said()).toContain(`open this page in a browser on any device:\n\n    ${idp?.issuer}/activate\n`);
    expect(said()).toContain('and enter the code:\n\n    WDJB-MJHT\n');
    expect(said()).toContain(`${idp?.issuer}/activate?user_code=WDJB-MJHT`);
    expect(said()).toContain('the code expires in 60 seconds');
  });

  it('polls five seconds more slowly after each slow_down, and says so', async () => {
    const { result, said, polls } = await run([{ error: 'slow_down' }]);

    await expect(result).resolves.toMatchObject({ access_token: 'an-access-token' });
    expect(said()).toContain('checking every 6 s now');
    // RFC 8628 §3.5: the next poll waits the longer interval (a lower bound, so load cannot break it).
    expect((polls[1] as number) - (polls[0] as number)).toBeGreaterThanOrEqual(5_900);
  }, 20_000);

  it('keeps polling through a server error, telling the person once', async () => {
    const { result, said, polls } = await run([{ status: 503 }, { error: 'authorization_pending' }]);

    await expect(result).resolves.toMatchObject({ access_token: 'an-access-token' });
    expect(polls).toHaveLength(3);
    expect(said()).toContain('Cannot reach the IdP right now; still trying');
    expect(said()).toContain('The IdP answers again');
  });

  it('says the code expired, and what to run, when the IdP answers expired_token', async () => {
    const { result } = await run([{ error: 'expired_token' }]);

    await expect(result).rejects.toMatchObject({ code: LoginErrorCode.EXPIRED });
    await expect(result).rejects.toThrow(
      'the code WDJB-MJHT expired before the sign-in was approved; run `gatehouse login --url https://gw.example.com` again',
    );
  });

  it('stops polling at the expiry the IdP gave, without another answer', async () => {
    const { result, polls } = await run(
      Array.from({ length: 10 }, () => ({ error: 'authorization_pending' })),
      { expires_in: 2, interval: 1 },
    );

    await expect(result).rejects.toMatchObject({ code: LoginErrorCode.EXPIRED });
    expect(polls.length).toBeLessThanOrEqual(2);
  });

  it('reports a refusal at the IdP', async () => {
    const { result } = await run([{ error: 'access_denied', description: 'the user cancelled the sign-in' }]);

    await expect(result).rejects.toMatchObject({ code: LoginErrorCode.ACCESS_DENIED });
    await expect(result).rejects.toThrow(
      'the sign-in was refused at the IdP (the user cancelled the sign-in)',
    );
  });

  it('reports any other OAuth error with the IdP words', async () => {
    const { result } = await run([{ error: 'invalid_client', description: 'unknown client' }]);

    await expect(result).rejects.toMatchObject({ code: LoginErrorCode.IDP_REFUSED });
    await expect(result).rejects.toThrow('the IdP answered invalid_client (unknown client)');
  });
});

describe('IdP discovery', () => {
  it.each([
    ['http://idp.example.com', /not https/],
    ['ftp://127.0.0.1', /not https/],
    ['not a url', /not a URL/],
  ])('refuses %s before any request', async (issuer, message) => {
    await expect(connectIdp(issuer, 'gatehouse-cli')).rejects.toThrow(message);
  });

  it('says the IdP is unreachable when nothing listens', async () => {
    const port = await closedPort();
    await expect(connectIdp(`http://127.0.0.1:${port}`, 'gatehouse-cli')).rejects.toMatchObject({
      code: LoginErrorCode.IDP_UNREACHABLE,
    });
  });
});
