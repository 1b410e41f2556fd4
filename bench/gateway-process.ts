/**
 * One gateway replica in its own process, so the bench can charge it exactly the CPU and memory
 * it uses. Started by `run.ts` with `fork()`; speaks over the IPC channel:
 *
 * - parent → `{ type: 'start', yaml }`; child → `{ type: 'ready', url }` (or `{ type: 'error' }`)
 * - parent → `{ type: 'sample', gc }`; child → `{ type: 'sample', ... }` ({@link GatewaySample})
 * - parent → `{ type: 'profile-start', intervalUs }` / `{ type: 'profile-stop', file }`; child →
 *   `{ type: 'profiled', file }`: a V8 CPU profile of exactly the window between the two, written
 *   as a `.cpuprofile` (what `node --cpu-prof` writes, without start-up and warm-up in it)
 * - parent → `{ type: 'stop' }`; the child closes the gateway and exits 0.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { parseConfigText } from '@gatehouse/config';
import { startGateway, type RunningGateway } from '../apps/gateway/src/bootstrap';
import { printWarningsOnce } from './warnings';

printWarningsOnce(`gateway ${process.pid}`);

/** What the gateway process reports about itself. */
export interface GatewaySample {
  type: 'sample';
  /** process.cpuUsage(): user and system CPU of every thread of the process, in µs. */
  userUs: number;
  systemUs: number;
  rssBytes: number;
  heapUsedBytes: number;
}

/** Messages the bench sends to the gateway process. */
export type GatewayCommand =
  | { type: 'start'; yaml: string }
  | { type: 'sample'; gc: boolean }
  | { type: 'profile-start'; intervalUs: number }
  | { type: 'profile-stop'; file: string }
  | { type: 'stop' };

/** Messages the gateway process sends back. */
export type GatewayReply =
  | { type: 'ready'; url: string }
  | { type: 'error'; message: string }
  | { type: 'profiled'; file: string }
  | GatewaySample;

let running: RunningGateway | undefined;
let profiler: Session | undefined;

const failed = (error: unknown) =>
  reply({ type: 'error', message: error instanceof Error ? error.message : String(error) });

async function startProfile(intervalUs: number): Promise<void> {
  profiler = new Session();
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.setSamplingInterval', { interval: intervalUs });
  await profiler.post('Profiler.start');
}

async function stopProfile(file: string): Promise<void> {
  if (!profiler) throw new Error('no profile is running');
  const { profile } = await profiler.post('Profiler.stop');
  profiler.disconnect();
  profiler = undefined;
  await writeFile(file, JSON.stringify(profile));
}

const reply = (message: GatewayReply) => process.send?.(message);

function sample(gc: boolean): GatewaySample {
  // Twice: the first pass may only finalise what the second frees; RSS is read after both.
  if (gc && global.gc) {
    global.gc();
    global.gc();
  }
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return {
    type: 'sample',
    userUs: cpu.user,
    systemUs: cpu.system,
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
  };
}

process.on('message', (command: GatewayCommand) => {
  switch (command.type) {
    case 'start':
      startGateway(parseConfigText(command.yaml, process.env)).then((gateway) => {
        running = gateway;
        reply({ type: 'ready', url: gateway.url });
      }, failed);
      break;
    case 'sample':
      reply(sample(command.gc));
      break;
    case 'profile-start':
      startProfile(command.intervalUs).then(() => reply({ type: 'profiled', file: '' }), failed);
      break;
    case 'profile-stop':
      stopProfile(command.file).then(() => reply({ type: 'profiled', file: command.file }), failed);
      break;
    case 'stop':
      (running?.close() ?? Promise.resolve()).then(
        () => process.exit(0),
        () => process.exit(1),
      );
      break;
  }
});
