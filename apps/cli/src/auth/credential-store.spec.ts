import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CredentialStore, defaultCredentialsPath, gatewayKey, type StoredLogin } from './credential-store';
import { LoginError, LoginErrorCode } from './errors';

function login(gateway: string, accessToken = `at-${gateway}`): StoredLogin {
  return {
    gateway,
    issuer: 'https://idp.example.com',
    clientId: 'gatehouse-cli',
    resource: `${gateway}/mcp`,
    refreshToken: `rt-${gateway}`,
    accessToken,
    expiresAt: '2030-01-01T00:05:00.000Z',
    obtainedAt: '2030-01-01T00:00:00.000Z',
  };
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe('credential store', () => {
  let home: string;
  let path: string;

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'gatehouse-creds-'));
    path = join(home, 'config', 'gatehouse', 'credentials.json');
  });

  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('creates its directory 0700 and the file 0600, whatever the umask', async () => {
    const umask = process.umask(0);
    try {
      await new CredentialStore(path).update((logins) => {
        logins['https://gw.example.com'] = login('https://gw.example.com');
      });
    } finally {
      process.umask(umask);
    }

    expect(mode(join(home, 'config', 'gatehouse'))).toBe(0o700);
    expect(mode(path)).toBe(0o600);
  });

  it('tightens a gatehouse directory that others can read', async () => {
    const dir = join(home, 'config', 'gatehouse');
    await new CredentialStore(path).update((logins) => {
      logins.a = login('a');
    });
    chmodSync(dir, 0o755);

    await new CredentialStore(path).update((logins) => {
      logins.b = login('b');
    });

    expect(mode(dir)).toBe(0o700);
  });

  it('keeps one entry per gateway: changing one leaves the others alone', async () => {
    const store = new CredentialStore(path);
    await store.update((logins) => {
      logins['https://a.example.com'] = login('https://a.example.com');
      logins['https://b.example.com'] = login('https://b.example.com');
    });

    await store.update((logins) => {
      logins['https://a.example.com'] = login('https://a.example.com', 'renewed');
    });

    expect((await store.get('https://a.example.com'))?.accessToken).toBe('renewed');
    expect(await store.get('https://b.example.com')).toEqual(login('https://b.example.com'));
    expect(await store.get('https://c.example.com')).toBeUndefined();
    expect((await store.list()).map((l) => l.gateway).sort()).toEqual([
      'https://a.example.com',
      'https://b.example.com',
    ]);
  });

  it('reads a missing file as no logins and does not create one just to read', async () => {
    const store = new CredentialStore(path);

    expect(await store.list()).toEqual([]);
    expect(() => statSync(join(home, 'config'))).toThrow(/ENOENT/);
  });

  it.each([
    [0o644, 'read'],
    [0o640, 'read'],
    [0o604, 'read'],
    [0o620, 'changed'],
    [0o602, 'changed'],
  ])('refuses a file with mode %s, saying it can be %s by others and how to fix it', async (loose, verb) => {
    const store = new CredentialStore(path);
    await store.update((logins) => {
      logins.a = login('a');
    });
    chmodSync(path, loose);

    const read = store.get('a');

    await expect(read).rejects.toMatchObject({ code: LoginErrorCode.CREDENTIALS_UNSAFE });
    await expect(read).rejects.toThrow(new RegExp(`can be ${verb} by other users .*chmod 600 ${path}`));
  });

  it('refuses to change a file others can read, so it never writes tokens next to a leak', async () => {
    const store = new CredentialStore(path);
    await store.update((logins) => {
      logins.a = login('a');
    });
    chmodSync(path, 0o644);

    await expect(
      store.update((logins) => {
        logins.b = login('b');
      }),
    ).rejects.toMatchObject({ code: LoginErrorCode.CREDENTIALS_UNSAFE });
    chmodSync(path, 0o600);
    expect(await store.get('b')).toBeUndefined();
  });

  it('refuses a symbolic link in place of the file', async () => {
    const elsewhere = join(home, 'elsewhere.json');
    writeFileSync(elsewhere, JSON.stringify({ version: 1, logins: {} }), { mode: 0o600 });
    await new CredentialStore(path).update((logins) => {
      logins.a = login('a');
    });
    rmSync(path);
    symlinkSync(elsewhere, path);

    await expect(new CredentialStore(path).list()).rejects.toThrow(/symbolic link/);
  });

  it.each([
    ['not JSON', '{"version": 1, "logins": {', /not valid JSON.*log in again/],
    ['another shape', '{"version": 2, "logins": {}}', /not a Gatehouse credentials file \(version:/],
  ])('explains a file that is %s', async (_what, content, message) => {
    await new CredentialStore(path).update(() => undefined);
    writeFileSync(path, content, { mode: 0o600 });

    await expect(new CredentialStore(path).list()).rejects.toThrow(message);
  });

  it('replaces the file whole: a reader in another process never sees half a write, and no temporary file stays', async () => {
    const store = new CredentialStore(path);
    await store.update((logins) => {
      logins.a = login('a');
    });
    // A separate process reads the file in a tight loop until told to stop, counting torn reads.
    const reader = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs'); let ok = 0, torn = 0, stop = false;
         process.stdin.on('data', () => (stop = true));
         (function loop() {
           for (let i = 0; i < 50; i++) {
             try { JSON.parse(fs.readFileSync(process.argv[1], 'utf8')); ok++; } catch { torn++; }
           }
           if (stop) process.stdout.write(JSON.stringify({ ok, torn }), () => process.exit(0));
           else setImmediate(loop);
         })();`,
        path,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    let output = '';
    reader.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => reader.on('exit', resolve));
    const big = 'x'.repeat(256 * 1024);

    for (let i = 0; i < 40; i++) {
      await store.update((logins) => {
        logins.a = login('a', `${big}-${i}`);
      });
    }
    reader.stdin.write('stop\n');
    await exited;

    const counts = JSON.parse(output) as { ok: number; torn: number };
    expect(counts.ok).toBeGreaterThan(0);
    expect(counts.torn).toBe(0);
    expect(readdirSync(join(home, 'config', 'gatehouse'))).toEqual(['credentials.json']);
  });

  it('serialises changes from separate stores (processes) with its lock: no update is lost', async () => {
    const stores = Array.from({ length: 4 }, () => new CredentialStore(path));
    await stores[0]?.update((logins) => {
      logins.counter = login('counter', '0');
    });

    await Promise.all(
      stores.flatMap((store) =>
        Array.from({ length: 10 }, () =>
          store.update(async (logins) => {
            const entry = logins.counter as StoredLogin;
            // Yield between read and write, as a refresh at the IdP would.
            await new Promise((resolve) => setImmediate(resolve));
            logins.counter = { ...entry, accessToken: String(Number(entry.accessToken) + 1) };
          }),
        ),
      ),
    );

    expect((await stores[0]?.get('counter'))?.accessToken).toBe('40');
  });

  it('breaks a lock left by a process that died', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    await new CredentialStore(path).update(() => undefined);
    writeFileSync(`${path}.lock`, `${dead}\n`);

    await new CredentialStore(path, { lockTimeoutMs: 2_000 }).update((logins) => {
      logins.a = login('a');
    });

    expect(await new CredentialStore(path).get('a')).toBeDefined();
  });

  it('gives up on a lock a live process holds, naming the file to delete', async () => {
    await new CredentialStore(path).update(() => undefined);
    writeFileSync(`${path}.lock`, `${process.pid}\n`);

    const change = new CredentialStore(path, { lockTimeoutMs: 200 }).update(() => undefined);

    await expect(change).rejects.toThrow(
      new RegExp(`${path}.lock is held by process ${process.pid}; if no gatehouse command is running`),
    );
  });

  it('releases the lock when the change fails', async () => {
    const store = new CredentialStore(path, { lockTimeoutMs: 500 });
    await expect(
      store.update(() => {
        throw new LoginError(LoginErrorCode.IDP_UNREACHABLE, 'idp down');
      }),
    ).rejects.toThrow('idp down');

    await store.update((logins) => {
      logins.a = login('a');
    });
    expect(await store.get('a')).toBeDefined();
  });
});

describe('where the credentials live', () => {
  it.each([
    [{ XDG_CONFIG_HOME: '/xdg' }, '/xdg/gatehouse/credentials.json'],
    [{}, '/home/ann/.config/gatehouse/credentials.json'],
    [{ XDG_CONFIG_HOME: '' }, '/home/ann/.config/gatehouse/credentials.json'],
    [{ XDG_CONFIG_HOME: 'relative/dir' }, '/home/ann/.config/gatehouse/credentials.json'],
  ])('with %j: %s', (env, expected) => {
    expect(defaultCredentialsPath(env, '/home/ann')).toBe(expected);
  });
});

describe('gateway key', () => {
  it.each([
    ['https://gw.example.com', 'https://gw.example.com'],
    ['https://gw.example.com/', 'https://gw.example.com'],
    ['https://gw.example.com/mcp', 'https://gw.example.com'],
    ['https://gw.example.com/mcp/', 'https://gw.example.com'],
    ['https://gw.example.com/mcp/servers/everything', 'https://gw.example.com'],
    ['https://corp.example.com/gatehouse/mcp', 'https://corp.example.com/gatehouse'],
    ['http://127.0.0.1:8080/mcp?x=1#frag', 'http://127.0.0.1:8080'],
    ['https://GW.example.com:443/mcp', 'https://gw.example.com'],
  ])('%s is stored under %s', (url, key) => {
    expect(gatewayKey(new URL(url))).toBe(key);
  });
});
