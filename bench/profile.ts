import { readFileSync } from 'node:fs';

/** The parts of a V8 `.cpuprofile` (as written by `node --cpu-prof`) this summary reads. */
interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }>;
  samples: number[];
  timeDeltas: number[];
}

/** One row of the self-time table. */
export interface HotSpot {
  functionName: string;
  /** `package/file:line` for dependencies, `node:…` for Node internals, repo-relative for our code. */
  location: string;
  selfMs: number;
  /** Share of the non-idle samples. */
  percent: number;
  /**
   * The nearest callers outside Node that most of this time came through (the first one, then
   * the first of another owner), so a `writev` can be told apart by who wrote.
   */
  via?: string;
}

/** Self time per function and per owner (package, Node internals, VM, our code). */
export interface ProfileSummary {
  busyMs: number;
  top: HotSpot[];
  byOwner: Array<{ owner: string; selfMs: number; percent: number }>;
}

function shorten(url: string): string {
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + '/node_modules/'.length);
  const dist = path.lastIndexOf('/dist/');
  if (dist >= 0) return path.slice(dist + 1);
  return path;
}

function ownerOf(url: string): string {
  if (url === '') return '(V8: GC, compiler, native)';
  if (url.startsWith('node:')) return 'node internals';
  const short = shorten(url);
  if (short !== url.replace(/^file:\/\//, '') && !short.startsWith('dist/')) {
    const parts = short.split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? short);
  }
  return 'gatehouse (dist/)';
}

/**
 * Reads a `.cpuprofile` and sums each sample's duration into the function it landed in (self
 * time), leaving out `(idle)`: the percentages are of the time the gateway was actually busy.
 */
export function summariseProfile(file: string, top = 10): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const parents = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parents.set(child, n.id);
  const describe = (f: CpuProfile['nodes'][number]['callFrame']) =>
    `${f.functionName || '(anonymous)'} (${shorten(f.url)}:${f.lineNumber + 1})`;
  // The first caller outside Node, V8 and the sampled function's own package, then the first
  // caller beyond it of yet another owner: "SDK stdio send ← our upstream request" says more
  // than either alone.
  const callerOutsideNode = (id: number, own: string): string | undefined => {
    let first: CpuProfile['nodes'][number]['callFrame'] | undefined;
    for (let cur = parents.get(id); cur !== undefined; cur = parents.get(cur)) {
      const f = frames.get(cur);
      if (!f?.url || f.url.startsWith('node:') || (!first && ownerOf(f.url) === own)) continue;
      if (!first) first = f;
      else if (ownerOf(f.url) !== ownerOf(first.url)) return `${describe(first)} ← ${describe(f)}`;
    }
    return first ? describe(first) : undefined;
  };
  const byFunction = new Map<
    string,
    { functionName: string; location: string; selfUs: number; via: Map<string, number> }
  >();
  const byOwner = new Map<string, number>();
  let busyUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    const frame = frames.get(id);
    // A sample lasts until the next one is taken.
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (!frame || frame.functionName === '(idle)') continue;
    busyUs += us;
    const location = frame.url ? `${shorten(frame.url)}:${frame.lineNumber + 1}` : '';
    const functionName = frame.functionName || '(anonymous)';
    const key = `${functionName}@${location}`;
    const entry = byFunction.get(key) ?? {
      functionName,
      location,
      selfUs: 0,
      via: new Map<string, number>(),
    };
    entry.selfUs += us;
    const owner = ownerOf(frame.url);
    const via = callerOutsideNode(id, owner);
    if (via) entry.via.set(via, (entry.via.get(via) ?? 0) + us);
    byFunction.set(key, entry);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + us);
  }
  const pct = (us: number) => (busyUs > 0 ? (us / busyUs) * 100 : 0);
  return {
    busyMs: busyUs / 1000,
    top: [...byFunction.values()]
      .sort((a, b) => b.selfUs - a.selfUs)
      .slice(0, top)
      .map((e) => {
        const via = [...e.via.entries()].sort((a, b) => b[1] - a[1])[0];
        return {
          functionName: e.functionName,
          location: e.location,
          selfMs: e.selfUs / 1000,
          percent: pct(e.selfUs),
          // A caller that explains under a quarter of the time would mislead more than inform.
          ...(via && via[1] >= e.selfUs / 4
            ? { via: `${via[0]} (${Math.round((via[1] / e.selfUs) * 100)}%)` }
            : {}),
        };
      }),
    byOwner: [...byOwner.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([owner, us]) => ({ owner, selfMs: us / 1000, percent: pct(us) })),
  };
}
