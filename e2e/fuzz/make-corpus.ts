/**
 * Writes `e2e/fuzz/jsonrpc-corpus.json`: hostile bodies for the gateway's front door (R38).
 * Hand-written cases plus deterministic mutations of valid messages (seeded, so the committed
 * corpus is reproducible). Run: `npm run build && node dist/e2e/fuzz/make-corpus.js`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const VALID = [
  { jsonrpc: '2.0', id: 1, method: 'tools/list' },
  {
    jsonrpc: '2.0',
    id: 'a',
    method: 'tools/call',
    params: { name: 'everything__echo', arguments: { message: 'x' } },
  },
  {
    jsonrpc: '2.0',
    id: 2,
    method: 'resources/read',
    params: { uri: 'everything+demo://resource/static/document/a.md' },
  },
  { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } },
  { jsonrpc: '2.0', id: 3, result: {} },
];

const HAND: string[] = [
  '',
  ' ',
  'null',
  'true',
  '0',
  '"string"',
  '[]',
  '[[]]',
  '[{"jsonrpc":"2.0","id":1,"method":"ping"}]',
  '{}',
  '{"jsonrpc":"2.0"}',
  '{"jsonrpc":2,"id":1,"method":"ping"}',
  '{"jsonrpc":"2.0","id":{},"method":"ping"}',
  '{"jsonrpc":"2.0","id":[1],"method":"ping"}',
  '{"jsonrpc":"2.0","id":1,"method":null}',
  '{"jsonrpc":"2.0","id":1,"method":42}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"x"}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":null}}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"__"}}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope__x"}}',
  '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"+++"}}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":{"a":1}}}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"WzEwMDAwMDAwMDAwXQ"}}',
  '{"jsonrpc":"2.0","id":1e999,"method":"ping"}',
  '{"jsonrpc":"2.0","id":-0,"method":"ping"}',
  '{"jsonrpc":"2.0","id":1,"method":"ping","__proto__":{"polluted":true}}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"constructor":{"prototype":{"polluted":true}}}}',
  '{"jsonrpc":"2.0","id":1,"method":"ping","jsonrpc":"1.0"}',
  '\ufeff{"jsonrpc":"2.0","id":1,"method":"ping"}',
  '{"jsonrpc":"2.0","id":1,"method":"\u0000"}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"everything__echo","arguments":{"message":"\ud800"}}}',
  '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":{"$gt":""}}}',
  '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":"all"}}',
  '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":1}}}',
  '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}',
  '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":"x"}}',
  '{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}',
  '{"jsonrpc":"2.0","id":"gh-000000000000-1","result":{}}',
  '{"jsonrpc":"2.0","id":"gh-zzzz-1","error":{"code":-1,"message":"x"}}',
  '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":{"x":1}}}',
  '{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}',
  '{"a":'.repeat(200) + '1' + '}'.repeat(200),
  '['.repeat(5000) + ']'.repeat(5000),
  '{"jsonrpc":"2.0","id":1,"method":"' + 'x'.repeat(100_000) + '"}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"everything__echo","arguments":{"message":"' +
    'é'.repeat(50_000) +
    '"}}}',
];

/**
 * Issue 13.9: `_meta` of every shape JSON allows but an object, on the methods a client calls
 * most. A null `_meta` was the one body of a 2,000-body fuzz run that got no answer.
 */
const META_SHAPES = ['null', '"x"', '[]', '7', 'true'];
const META_BODIES = [
  '"method":"tools/call","params":{"name":"everything__echo","arguments":{"message":"x"},"_meta":',
  '"method":"tools/list","params":{"_meta":',
  '"method":"resources/list","params":{"_meta":',
  '"method":"resources/read","params":{"uri":"everything+demo://resource/static/document/a.md","_meta":',
  '"method":"prompts/get","params":{"name":"everything__simple-prompt","_meta":',
];
HAND.push(
  ...META_BODIES.flatMap((body) => META_SHAPES.map((meta) => `{"jsonrpc":"2.0","id":1,${body}${meta}}}`)),
  '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"progressToken":{}}}}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"everything__echo","arguments":"x"}}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"everything__echo","arguments":[]}}',
  '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["everything__echo"]}}',
  '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":null}}',
  '{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":7}}',
  '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1,"_meta":null}}',
);

/** mulberry32: small, seeded, reproducible. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(20261123);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
const WEIRD: unknown[] = [
  null,
  true,
  -1,
  1.5,
  1e308,
  '',
  'x'.repeat(300),
  [],
  {},
  [[[]]],
  { __proto__: null },
];

function mutateValue(value: unknown, depth = 0): unknown {
  if (depth > 4 || random() < 0.15) return pick(WEIRD);
  if (Array.isArray(value)) return value.map((v) => mutateValue(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = random();
      if (r < 0.1) continue;
      out[r < 0.2 ? `${k}_` : k] = random() < 0.5 ? mutateValue(v, depth + 1) : v;
    }
    if (random() < 0.1) out[pick(['__proto__', 'constructor', 'id', 'method', 'params'])] = pick(WEIRD);
    return out;
  }
  return random() < 0.5 ? pick(WEIRD) : value;
}

function mutateText(text: string): string {
  const r = random();
  const at = Math.floor(random() * text.length);
  if (r < 0.3) return text.slice(0, at);
  if (r < 0.5)
    return (
      text.slice(0, at) + pick(['{', '}', '[', ']', '"', ',', ':', '\\', '\u0000', 'é']) + text.slice(at)
    );
  if (r < 0.7) return text.slice(0, at) + text.slice(at + 1 + Math.floor(random() * 5));
  return text + pick([',', '}', ' garbage', '\n{"jsonrpc":"2.0"}']);
}

const corpus = new Set<string>(HAND);
while (corpus.size < HAND.length + 300) {
  const base = pick(VALID);
  corpus.add(random() < 0.5 ? JSON.stringify(mutateValue(base)) : mutateText(JSON.stringify(base)));
}
const file = join(__dirname, '../../../e2e/fuzz/jsonrpc-corpus.json');
writeFileSync(file, `${JSON.stringify([...corpus], null, 0)}\n`);
process.stdout.write(`wrote ${corpus.size} bodies to ${file}\n`);
