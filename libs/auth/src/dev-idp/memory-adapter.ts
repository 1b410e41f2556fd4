import type { Adapter, AdapterPayload } from 'oidc-provider';

interface Entry {
  payload: AdapterPayload;
  expiresAt: number;
}

/** Models whose records are revoked together with their grant. */
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode']);

/** Writes between two sweeps of expired records. */
const SWEEP_EVERY = 256;

/**
 * An oidc-provider storage adapter holding everything in this process's memory, one store per
 * development IdP. oidc-provider's own memory adapter shares one global, size-capped store between
 * every instance in the process and warns on each start; this one does neither. Sessions, codes and
 * refresh tokens do not survive a restart, which is fine for development.
 */
export function memoryAdapter(): new (model: string) => Adapter {
  const records = new Map<string, Entry>();
  const grants = new Map<string, Set<string>>();
  let writes = 0;

  function get(key: string): AdapterPayload | undefined {
    const entry = records.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= Date.now()) {
      records.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  function sweep(): void {
    const now = Date.now();
    for (const [key, entry] of records) if (entry.expiresAt <= now) records.delete(key);
    for (const [grantId, keys] of grants) {
      for (const key of keys) if (!records.has(key)) keys.delete(key);
      if (keys.size === 0) grants.delete(grantId);
    }
  }

  return class DevIdpMemoryAdapter implements Adapter {
    constructor(private readonly model: string) {}

    private key(id: string): string {
      return `${this.model}:${id}`;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (++writes % SWEEP_EVERY === 0) sweep();
      const key = this.key(id);
      const expiresAt = Date.now() + expiresIn * 1000;
      records.set(key, { payload, expiresAt });
      if (this.model === 'Session' && payload.uid !== undefined) {
        records.set(`sessionUid:${payload.uid}`, { payload: { id }, expiresAt });
      }
      if (payload.userCode !== undefined) {
        records.set(`userCode:${payload.userCode}`, { payload: { id }, expiresAt });
      }
      if (GRANTABLE.has(this.model) && payload.grantId !== undefined) {
        const keys = grants.get(payload.grantId) ?? new Set<string>();
        keys.add(key);
        grants.set(payload.grantId, keys);
      }
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      return get(this.key(id));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const ref = get(`sessionUid:${uid}`);
      return typeof ref?.id === 'string' ? this.find(ref.id) : undefined;
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const ref = get(`userCode:${userCode}`);
      return typeof ref?.id === 'string' ? this.find(ref.id) : undefined;
    }

    async consume(id: string): Promise<void> {
      const payload = get(this.key(id));
      if (payload !== undefined) payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id: string): Promise<void> {
      records.delete(this.key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      for (const key of grants.get(grantId) ?? []) records.delete(key);
      grants.delete(grantId);
    }
  };
}
