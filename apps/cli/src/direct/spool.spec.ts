import { spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  statSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { IngestRequest, IngestResponse } from '@gatehouse/audit';

import { DirectError, DirectErrorCode } from './errors';
import { IngestError } from './ingest-client';
import { defaultSpoolDir, Spool, spoolPath, type SpoolEntry } from './spool';

function entry(id: string, mode: SpoolEntry['mode'] = 'fallback'): SpoolEntry {
  return {
    id,
    mode,
    server: 'memory',
    method: 'tools/call',
    params: { name: 'read_graph', arguments: {} },
    startedAt: '2026-11-24T02:00:00.000Z',
    durationMs: 3,
    status: 'ok',
    responseBytes: 10,
  };
}

interface Logged {
  level: string;
  msg: string;
}

function setup(maxBytes = 1_000_000) {
  const dir = join(mkdtempSync(join(tmpdir(), 'gatehouse-spool-')), 'spool');
  const logged: Logged[] = [];
  const log = {
    error: (msg: string) => logged.push({ level: 'error', msg }),
    warn: (msg: string) => logged.push({ level: 'warn', msg }),
    info: (msg: string) => logged.push({ level: 'info', msg }),
  };
  const spool = new Spool({ path: join(dir, 'a.jsonl'), maxBytes, log });
  return { dir, spool, logged };
}

/** A gateway that acknowledges every call it is sent, recording each request. */
function acknowledging(requests: IngestRequest[]) {
  return (request: IngestRequest): Promise<IngestResponse> => {
    requests.push(request);
    return Promise.resolve({
      stored: request.calls.length,
      duplicates: 0,
      decisions: request.calls.map((call) => ({
        id: call.id,
        decision: 'allow' as const,
        reason: 'allowed',
        matchedRules: [],
        stored: true,
      })),
    });
  };
}

describe('the spool', () => {
  it('lives under XDG_STATE_HOME, one file per gateway and identity', () => {
    expect(defaultSpoolDir({ XDG_STATE_HOME: '/state' }, '/home/a')).toBe('/state/gatehouse/spool');
    expect(defaultSpoolDir({ XDG_STATE_HOME: 'relative' }, '/home/a')).toBe(
      '/home/a/.local/state/gatehouse/spool',
    );
    const alice = spoolPath('/d', 'https://gw', 'alice');
    expect(alice).toMatch(/^\/d\/[0-9a-f]{24}\.jsonl$/);
    expect(spoolPath('/d', 'https://gw', 'bob')).not.toBe(alice);
    expect(spoolPath('/d', 'https://other', 'alice')).not.toBe(alice);
  });

  it('appends one JSON line per call in a 0700 directory and a 0600 file', async () => {
    const { dir, spool } = setup();
    await spool.append(entry('1'));
    await spool.append(entry('2', 'shadow'));

    const lines = readFileSync(spool.path, 'utf8').trimEnd().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as SpoolEntry).id)).toEqual(['1', '2']);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(spool.path).mode & 0o777).toBe(0o600);
    expect((await spool.read()).map((e) => e.mode)).toEqual(['fallback', 'shadow']);
  });

  it('skips a torn last line with a warning and keeps later appends on their own line', async () => {
    const { spool, logged } = setup();
    await spool.append(entry('1'));
    appendFileSync(spool.path, '{"id":"2","mode":"fall');
    expect((await spool.read()).map((e) => e.id)).toEqual(['1']);
    expect(logged).toContainEqual({
      level: 'warn',
      msg: 'skipping a torn last line in the spool (a crash while writing it; that call was never answered)',
    });

    await spool.append(entry('3'));
    expect((await spool.read()).map((e) => e.id)).toEqual(['1', '3']);

    // Once everything readable is uploaded, the torn remains go with the file.
    appendFileSync(spool.path, '{"id":"4","mo');
    expect(await spool.upload(acknowledging([]))).toEqual({ acknowledged: 2, remaining: 0 });
    expect(existsSync(spool.path)).toBe(false);

    // A spool holding nothing but a torn line is cleared by the next upload, without a request.
    const requests: IngestRequest[] = [];
    appendFileSync(spool.path, '{"id":"5","mo', { mode: 0o600 });
    expect(await spool.upload(acknowledging(requests))).toEqual({ acknowledged: 0, remaining: 0 });
    expect(requests).toEqual([]);
    expect(existsSync(spool.path)).toBe(false);
  });

  it('refuses appends once full, saying what to do, and keeps what it has', async () => {
    const { spool } = setup(10);
    await spool.append(entry('1'));
    const error = await spool.append(entry('2')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DirectError);
    expect((error as DirectError).code).toBe(DirectErrorCode.SPOOL_FULL);
    expect((error as DirectError).message).toMatch(/is full .*the call was not run.*--spool-max-mb/);
    expect(await spool.isFull()).toBe(true);
    expect((await spool.read()).map((e) => e.id)).toEqual(['1']);
  });

  it('refuses a spool file other users can read', async () => {
    const { spool } = setup();
    await spool.append(entry('1'));
    chmodSync(spool.path, 0o644);
    const error = (await spool.append(entry('2')).catch((e: unknown) => e)) as DirectError;
    expect(error.code).toBe(DirectErrorCode.SPOOL_INSECURE);
    expect(error.message).toMatch(/chmod 600/);
  });

  it('uploads oldest first in batches of one mode and host of at most 500, then deletes the file', async () => {
    const { spool } = setup(10_000_000);
    for (let i = 0; i < 501; i++) await spool.append(entry(`f${i}`));
    await spool.append(entry('s1', 'shadow'));
    const requests: IngestRequest[] = [];

    const result = await spool.upload(acknowledging(requests));

    expect(result).toEqual({ acknowledged: 502, remaining: 0 });
    expect(requests.map((r) => [r.mode, r.calls.length])).toEqual([
      ['fallback', 500],
      ['fallback', 1],
      ['shadow', 1],
    ]);
    expect(requests[0]?.calls[0]).toEqual(
      expect.objectContaining({ id: 'f0', startedAt: '2026-11-24T02:00:00.000Z' }),
    );
    expect(requests[0]?.calls[0]).not.toHaveProperty('mode');
    expect(existsSync(spool.path)).toBe(false);
  });

  it('removes only what the gateway acknowledged', async () => {
    const { spool, logged } = setup();
    await spool.append(entry('1'));
    await spool.append(entry('2'));
    const result = await spool.upload((request) =>
      Promise.resolve({
        stored: 1,
        duplicates: 0,
        // The gateway acknowledges call 1 only, whatever it is sent.
        decisions: request.calls
          .filter((call) => call.id === '1')
          .map((call) => ({
            id: call.id,
            decision: 'allow' as const,
            reason: '',
            matchedRules: [],
            stored: true,
          })),
      }),
    );
    expect(result).toEqual({ acknowledged: 1, remaining: 1 });
    expect((await spool.read()).map((e) => e.id)).toEqual(['2']);
    expect(logged.map((l) => l.msg)).toContain(
      'the gateway did not acknowledge every uploaded call; they stay in the spool',
    );
  });

  it('keeps everything when the upload fails', async () => {
    const { spool } = setup();
    await spool.append(entry('1'));
    await expect(spool.upload(() => Promise.reject(new Error('gateway down')))).rejects.toThrow(
      'gateway down',
    );
    expect((await spool.read()).map((e) => e.id)).toEqual(['1']);
  });

  it('sets aside the calls the gateway refuses as invalid, so the rest of the spool still goes', async () => {
    const { spool, logged } = setup();
    await spool.append(entry('1'), entry('bad'), entry('3'));
    const requests: IngestRequest[] = [];
    const ack = acknowledging(requests);
    const result = await spool.upload((request) => {
      const index = request.calls.findIndex((call) => call.id === 'bad');
      if (index >= 0) {
        return Promise.reject(
          new IngestError('HTTP 400', false, 400, {
            calls: [index],
            issues: [`calls[${index}].startedAt: more than 30 days ago`],
          }),
        );
      }
      return ack(request);
    });
    expect(result).toEqual({ acknowledged: 2, remaining: 0 });
    expect(requests.map((r) => r.calls.map((c) => c.id))).toEqual([['1', '3']]);
    const setAside = readFileSync(`${spool.path}.rejected.jsonl`, 'utf8').trim().split('\n');
    expect(setAside.map((line) => (JSON.parse(line) as SpoolEntry).id)).toEqual(['bad']);
    expect(logged).toContainEqual({
      level: 'error',
      msg: 'the gateway refused spooled calls as invalid; they are set aside for a manual import',
    });
  });

  it('keeps calls appended while an upload is in flight', async () => {
    const { spool } = setup();
    await spool.append(entry('1'));
    const requests: IngestRequest[] = [];
    const ack = acknowledging(requests);
    const result = await spool.upload(async (request) => {
      if (requests.length === 0) await spool.append(entry('2'));
      return ack(request);
    });
    expect(result).toEqual({ acknowledged: 2, remaining: 0 });
    expect(requests.map((r) => r.calls.map((c) => c.id))).toEqual([['1'], ['2']]);
  });

  it('lets one upload run at a time and breaks the lock of a process that is gone', async () => {
    const { spool } = setup();
    await spool.append(entry('1'));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const requests: IngestRequest[] = [];
    const ack = acknowledging(requests);
    const first = spool.upload(async (request) => {
      await gate;
      return ack(request);
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await spool.upload(ack)).toBeUndefined();
    release();
    expect(await first).toEqual({ acknowledged: 1, remaining: 0 });

    // A lock left by a process that no longer exists.
    const child = spawn(process.execPath, ['-e', '0']);
    const deadPid = await new Promise<number>((resolve) => child.on('exit', () => resolve(child.pid ?? 0)));
    writeFileSync(`${spool.path}.upload.lock`, `${deadPid}\n`);
    await spool.append(entry('2'));
    expect(await spool.upload(ack)).toEqual({ acknowledged: 1, remaining: 0 });
  });
});
