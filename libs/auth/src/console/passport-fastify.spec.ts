import type { FastifyRequest } from 'fastify';
import passport from 'passport';
import { authenticate } from './passport-fastify';

/** A real passport strategy whose decision the test chooses, made after an await like real ones. */
class Scripted {
  name: string;
  constructor(
    name: string,
    private readonly act: (
      self: Record<string, (...args: unknown[]) => void>,
      req: { session: Record<string, unknown> },
    ) => void,
  ) {
    this.name = name;
  }

  authenticate(req: { session: Record<string, unknown> }): void {
    void Promise.resolve().then(() =>
      this.act(this as unknown as Record<string, (...args: unknown[]) => void>, req),
    );
  }
}

const request = { method: 'GET', url: '/auth/login?returnTo=/x', headers: {}, query: {} } as FastifyRequest;

describe('authenticate (passport on a Fastify request)', () => {
  const names: string[] = [];
  const use = (name: string, act: ConstructorParameters<typeof Scripted>[1]): string => {
    passport.use(name, new Scripted(name, act));
    names.push(name);
    return name;
  };
  afterAll(() => names.forEach((n) => passport.unuse(n)));

  it('resolves with the redirect a strategy writes through res.setHeader/res.end, and keeps its session data', async () => {
    const session: Record<string, unknown> = {};
    const name = use('redirects', (self, req) => {
      req.session.oidc = { code_verifier: 'v' };
      self.redirect?.('https://idp.example/auth?x=1');
    });
    await expect(authenticate(passport, name, request, session)).resolves.toEqual({
      kind: 'redirect',
      location: 'https://idp.example/auth?x=1',
      status: 302,
    });
    expect(session).toEqual({ oidc: { code_verifier: 'v' } });
  });

  it('resolves with the user on success', async () => {
    const name = use('succeeds', (self) => self.success?.({ id: 'carol' }, { via: 'test' }));
    await expect(authenticate(passport, name, request, {})).resolves.toEqual({
      kind: 'success',
      user: { id: 'carol' },
      info: { via: 'test' },
    });
  });

  it('resolves with the challenge on failure', async () => {
    const name = use('fails', (self) => self.fail?.({ message: 'state mismatch' }, 403));
    await expect(authenticate(passport, name, request, {})).resolves.toEqual({
      kind: 'fail',
      challenge: { message: 'state mismatch' },
      status: 403,
    });
  });

  it('resolves when the strategy passes', async () => {
    const name = use('passes', (self) => self.pass?.());
    await expect(authenticate(passport, name, request, {})).resolves.toEqual({ kind: 'pass' });
  });

  it('rejects with the error a strategy reports', async () => {
    const name = use('errors', (self) => self.error?.(new Error('token endpoint down')));
    await expect(authenticate(passport, name, request, {})).rejects.toThrow('token endpoint down');
  });

  it('rejects when the strategy is unknown instead of hanging', async () => {
    await expect(authenticate(passport, 'never-registered', request, {})).rejects.toThrow(
      'Unknown authentication strategy "never-registered"',
    );
  });

  it('rejects when a strategy throws synchronously', async () => {
    passport.use('throws', {
      name: 'throws',
      authenticate() {
        throw new Error('broken strategy');
      },
    });
    names.push('throws');
    await expect(authenticate(passport, 'throws', request, {})).rejects.toThrow('broken strategy');
  });

  it('settles once: a strategy that redirects and then errors keeps the redirect', async () => {
    const name = use('twice', (self) => {
      self.redirect?.('https://idp.example/first');
      self.error?.(new Error('late'));
    });
    await expect(authenticate(passport, name, request, {})).resolves.toMatchObject({
      kind: 'redirect',
      location: 'https://idp.example/first',
    });
  });
});
