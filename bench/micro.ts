import { cpus, loadavg } from 'node:os';

/** Wall-time distribution of one synchronous operation, in microseconds. */
export interface Stats {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

/**
 * Times `run` once per item, `warmupRounds` rounds unmeasured then `rounds` measured, each call
 * on its own with `process.hrtime`: for synchronous work measured in microseconds.
 */
export function timeEach<T>(
  items: readonly T[],
  run: (item: T, index: number) => unknown,
  warmupRounds: number,
  rounds: number,
): Stats {
  const timings: number[] = [];
  for (let round = 0; round < warmupRounds + rounds; round++) {
    for (let i = 0; i < items.length; i++) {
      const t0 = process.hrtime.bigint();
      run(items[i] as T, i);
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      if (round >= warmupRounds) timings.push(us);
    }
  }
  timings.sort((a, b) => a - b);
  const at = (q: number) => timings[Math.min(timings.length - 1, Math.floor(q * timings.length))] ?? 0;
  return { samples: timings.length, p50: at(0.5), p99: at(0.99), max: timings.at(-1) ?? 0 };
}

/** The report line naming the machine and how busy it was, for reading the figures. */
export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
  return `Machine: ${cpus().length} × ${cpu}, Node ${process.version}; load average at the end ${load}.`;
}
