import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, ProtocolError, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { RunningGateway } from '../../apps/gateway/src/bootstrap';
import { demoUpstreamsYaml, gatewayWith, initializeBody, rawPost } from './helpers';

/**
 * No installed reference server pages its lists (everything, memory and filesystem answer every
 * list in one page), so cursors would never be exercised. This small stdio MCP server pages
 * tools, resources and templates with its own opaque cursors and refuses any cursor it did not
 * issue, so a cursor the gateway mangled shows up as an upstream error.
 */
const PAGER_SOURCE = String.raw`
const LISTS = {
  'tools/list': ['tools', 5, Array.from({ length: 12 }, (_, i) => ({ name: 'tool-' + (i + 1), inputSchema: { type: 'object' } }))],
  'resources/list': ['resources', 3, Array.from({ length: 7 }, (_, i) => ({ uri: 'pager://item/' + (i + 1), name: 'item-' + (i + 1) }))],
  'resources/templates/list': ['resourceTemplates', 3, Array.from({ length: 4 }, (_, i) => ({ uriTemplate: 'pager://set' + (i + 1) + '/{id}', name: 'set-' + (i + 1) }))],
};
const cursorOf = (method, offset) => 'opaque/' + method + '/' + offset + '+=';
const send = (m) => process.stdout.write(JSON.stringify(m) + '\n');
function handle(m) {
  if (m.id === undefined || typeof m.method !== 'string') return;
  const reply = (result) => send({ jsonrpc: '2.0', id: m.id, result });
  const fail = (code, message) => send({ jsonrpc: '2.0', id: m.id, error: { code, message } });
  if (m.method === 'initialize') {
    const asked = m.params && m.params.protocolVersion;
    return reply({
      protocolVersion: ['2025-06-18', '2025-11-25'].includes(asked) ? asked : '2025-11-25',
      capabilities: { tools: {}, resources: {} },
      serverInfo: { name: 'pager', version: '1.0.0' },
    });
  }
  if (m.method === 'ping') return reply({});
  const list = LISTS[m.method];
  if (!list) return fail(-32601, 'Method not found: ' + m.method);
  const [field, size, items] = list;
  const cursor = m.params && m.params.cursor;
  let offset = 0;
  if (cursor !== undefined) {
    offset = items.findIndex((_, i) => i > 0 && cursorOf(m.method, i) === cursor);
    if (offset < 0) return fail(-32602, 'pager did not issue cursor ' + JSON.stringify(cursor));
  }
  const next = offset + size < items.length ? cursorOf(m.method, offset + size) : undefined;
  reply(Object.assign({ [field]: items.slice(offset, offset + size) }, next ? { nextCursor: next } : {}));
}
let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
    const line = buffered.slice(0, nl).trim();
    buffered = buffered.slice(nl + 1);
    if (line) handle(JSON.parse(line));
  }
});
process.stdin.on('end', () => process.exit(0));
`;

const MODERN = '2026-07-28';
const ALL_VERSIONS = ['2025-06-18', '2025-11-25', MODERN];

/** `_meta` that makes a raw POST a 2026-07-28 request (no session). */
function modernMeta(version = MODERN): Record<string, unknown> {
  return {
    'io.modelcontextprotocol/protocolVersion': version,
    'io.modelcontextprotocol/clientInfo': { name: 'raw-modern', version: '1.0.0' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
}

function rpc(id: number, method: string, params: Record<string, unknown> = {}): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method, params });
}

function textOf(result: { content?: unknown }): string {
  return ((result.content ?? []) as Array<{ type: string; text?: string }>)
    .map((c) => c.text ?? '')
    .join('\n');
}

/** Walks a list to its end, following cursors, and records every cursor it was handed. */
async function walk<T>(
  page: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string }>,
): Promise<{ items: T[]; cursors: string[] }> {
  const items: T[] = [];
  const cursors: string[] = [];
  let cursor: string | undefined;
  do {
    const result = await page(cursor);
    items.push(...result.items);
    cursor = result.nextCursor;
    if (cursor !== undefined) cursors.push(cursor);
  } while (cursor !== undefined && cursors.length < 100);
  return { items, cursors };
}

type ListMethod = 'tools/list' | 'resources/list' | 'resources/templates/list';
const LIST_METHODS: ListMethod[] = ['tools/list', 'resources/list', 'resources/templates/list'];
/** The array each list pages over and the field that identifies an item in it. */
const LIST_SHAPE: Record<ListMethod, { field: string; key: string }> = {
  'tools/list': { field: 'tools', key: 'name' },
  'resources/list': { field: 'resources', key: 'uri' },
  'resources/templates/list': { field: 'resourceTemplates', key: 'uriTemplate' },
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON-RPC shapes
type RawCall = (method: string, params?: Record<string, unknown>) => Promise<any>;

/**
 * A 2025-06-18 session driven with raw POSTs. The SDK client walks every page itself when
 * called without a cursor, which would hide the cursors this file is about.
 */
async function rawSession(url: string): Promise<RawCall> {
  const init = await rawPost(url, initializeBody());
  const headers = {
    'mcp-session-id': init.headers.get('mcp-session-id') as string,
    'mcp-protocol-version': String(init.json.result.protocolVersion),
  };
  await rawPost(url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), headers);
  let id = 100;
  return async (method, params = {}) => (await rawPost(url, rpc(++id, method, params), headers)).json;
}

/** Follows one list's cursors to the end over a raw session. */
async function walkList(call: RawCall, method: ListMethod): Promise<{ items: string[]; cursors: string[] }> {
  const { field, key } = LIST_SHAPE[method];
  return walk(async (cursor) => {
    const response = await call(method, cursor ? { cursor } : {});
    if (response.error) throw new Error(`${method}: ${JSON.stringify(response.error)}`);
    const page = response.result as Record<string, unknown>;
    return {
      items: (page[field] as Array<Record<string, string>>).map((item) => item[key] as string),
      nextCursor: page.nextCursor as string | undefined,
    };
  });
}

/** Everything one SDK client can list; the SDK walks the pages itself. */
async function sdkList(client: Client, method: ListMethod): Promise<string[]> {
  switch (method) {
    case 'tools/list':
      return (await client.listTools()).tools.map((t) => t.name);
    case 'resources/list':
      return (await client.listResources()).resources.map((r) => r.uri);
    case 'resources/templates/list':
      return (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
  }
}

/** The rest of the MCP surface through a real gateway, real SDK clients and real upstreams. */
describe('MCP protocol coverage through the gateway', () => {
  let gw: RunningGateway & { logs: string[] };
  let fixtureDir: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    fixtureDir = mkdtempSync(join(tmpdir(), 'gatehouse-pager-'));
    const pager = join(fixtureDir, 'pager.js');
    writeFileSync(pager, PAGER_SOURCE);
    // `roots: client`: the roots test below has the upstream ask its own client.
    gw = await gatewayWith(`${demoUpstreamsYaml('per-session', ['roots: client'])}  pager:
    transport: stdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(pager)}]
`);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await gw.close();
    rmSync(fixtureDir, { recursive: true, force: true });
  });

  const open = async (
    path: string,
    capabilities: Record<string, unknown> = {},
    setup?: (c: Client) => void,
  ): Promise<Client> => {
    const client = new Client(
      { name: 'coverage-test', version: '1.0.0' },
      { capabilities, versionNegotiation: { mode: 'legacy' } },
    );
    setup?.(client);
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}${path}`)));
    clients.push(client);
    return client;
  };

  it('completes a prompt argument and a resource-template variable with the upstream’s own values', async () => {
    const aggregated = await open('/mcp');
    const direct = await open('/mcp/servers/everything');

    const department = await aggregated.complete({
      ref: { type: 'ref/prompt', name: 'everything__completable-prompt' },
      argument: { name: 'department', value: 'Ma' },
    });
    expect(department.completion.values).toEqual(['Marketing']);
    // The second argument's completer reads the first from the context: it must arrive intact.
    const lead = await aggregated.complete({
      ref: { type: 'ref/prompt', name: 'everything__completable-prompt' },
      argument: { name: 'name', value: '' },
      context: { arguments: { department: 'Sales' } },
    });
    expect(lead.completion.values).toEqual(['David', 'Eve', 'Frank']);
    expect(lead).toEqual(
      await direct.complete({
        ref: { type: 'ref/prompt', name: 'completable-prompt' },
        argument: { name: 'name', value: '' },
        context: { arguments: { department: 'Sales' } },
      }),
    );

    const textTemplate = 'everything+demo://resource/dynamic/text/{resourceId}';
    expect(await sdkList(aggregated, 'resources/templates/list')).toContain(textTemplate);
    const resourceId = await aggregated.complete({
      ref: { type: 'ref/resource', uri: textTemplate },
      argument: { name: 'resourceId', value: '42' },
    });
    expect(resourceId.completion.values).toEqual(['42']);
    const rejected = await aggregated.complete({
      ref: { type: 'ref/resource', uri: textTemplate },
      argument: { name: 'resourceId', value: 'x' },
    });
    expect(rejected.completion.values).toEqual([]);
    expect(resourceId).toEqual(
      await direct.complete({
        ref: { type: 'ref/resource', uri: 'demo://resource/dynamic/text/{resourceId}' },
        argument: { name: 'resourceId', value: '42' },
      }),
    );
  });

  it('answers a per-session upstream’s roots/list from its own client and asks again after roots/list_changed', async () => {
    let rootsA = [{ uri: 'file:///work/alpha', name: 'alpha' }];
    const rootsB = [{ uri: 'file:///work/bravo', name: 'bravo' }];
    const asked: string[] = [];
    let onAskedA: (() => void) | undefined;
    const a = await open('/mcp', { roots: { listChanged: true } }, (c) =>
      c.setRequestHandler('roots/list', async () => {
        asked.push('a');
        onAskedA?.();
        return { roots: rootsA };
      }),
    );
    const b = await open('/mcp', { roots: { listChanged: true } }, (c) =>
      c.setRequestHandler('roots/list', async () => {
        asked.push('b');
        return { roots: rootsB };
      }),
    );

    const [firstA, firstB] = await Promise.all([
      a.callTool({ name: 'everything__get-roots-list', arguments: {} }),
      b.callTool({ name: 'everything__get-roots-list', arguments: {} }),
    ]);
    expect(textOf(firstA)).toContain('file:///work/alpha');
    expect(textOf(firstA)).not.toContain('bravo');
    expect(textOf(firstB)).toContain('file:///work/bravo');
    expect(textOf(firstB)).not.toContain('alpha');
    expect(asked).toContain('a');
    expect(asked).toContain('b');

    // The upstream caches roots after its first fetch: only a forwarded list_changed makes it ask again.
    rootsA = [{ uri: 'file:///work/charlie', name: 'charlie' }];
    const askedAgain = new Promise<void>((ok) => (onAskedA = ok));
    await a.sendRootsListChanged();
    await askedAgain;
    const secondA = await a.callTool({ name: 'everything__get-roots-list', arguments: {} });
    expect(textOf(secondA)).toContain('file:///work/charlie');
    expect(textOf(secondA)).not.toContain('alpha');
    const secondB = await b.callTool({ name: 'everything__get-roots-list', arguments: {} });
    expect(textOf(secondB)).toContain('file:///work/bravo');
  });

  it('round-trips an upstream’s elicitation/create through the client’s handler', async () => {
    const received: Array<{ message?: string; properties: string[] }> = [];
    let answer: 'accept' | 'decline' = 'accept';
    const client = await open('/mcp', { elicitation: {} }, (c) =>
      c.setRequestHandler('elicitation/create', async (request) => {
        const params = request.params as {
          message?: string;
          requestedSchema?: { properties?: Record<string, unknown> };
        };
        received.push({
          message: params.message,
          properties: Object.keys(params.requestedSchema?.properties ?? {}),
        });
        return answer === 'accept'
          ? { action: 'accept', content: { name: 'Ada Lovelace', check: true, integer: 7 } }
          : { action: 'decline' };
      }),
    );

    const accepted = await client.callTool({
      name: 'everything__trigger-elicitation-request',
      arguments: {},
    });
    expect(textOf(accepted)).toContain('User provided the requested information');
    expect(textOf(accepted)).toContain('- Name: Ada Lovelace');
    expect(textOf(accepted)).toContain('- Agreed to terms: true');
    expect(textOf(accepted)).toContain('- Favorite Integer: 7');
    expect(received[0]?.message).toMatch(/provide inputs/);
    expect(received[0]?.properties).toEqual(expect.arrayContaining(['name', 'check', 'email']));

    answer = 'decline';
    const declined = await client.callTool({
      name: 'everything__trigger-elicitation-request',
      arguments: {},
    });
    expect(textOf(declined)).toContain('User declined');
    expect(received).toHaveLength(2);
  });

  it('pages every aggregated list to the end with unique, namespaced items and no item lost', async () => {
    const aggregated = await rawSession(`${gw.url}/mcp`);
    const direct = {
      everything: await open('/mcp/servers/everything'),
      memory: await open('/mcp/servers/memory'),
      pager: await open('/mcp/servers/pager'),
    };
    const qualify = (method: ListMethod, server: string, item: string): string =>
      method === 'tools/list' ? `${server}__${item}` : `${server}+${item}`;
    for (const method of LIST_METHODS) {
      const walked = await walkList(aggregated, method);
      expect(new Set(walked.items).size).toBe(walked.items.length);
      expect(walked.items.every((i) => /^(everything|memory|pager)(__|\+)/.test(i))).toBe(true);
      // The pager alone needs three pages, so a complete walk proves cursors were followed.
      expect(walked.cursors.length).toBeGreaterThanOrEqual(2);
      expect(new Set(walked.cursors).size).toBe(walked.cursors.length);
      // What each upstream lists on its own, namespaced, is exactly what the walk collected.
      const expected: string[] = [];
      for (const [server, client] of Object.entries(direct)) {
        expected.push(...(await sdkList(client, method)).map((item) => qualify(method, server, item)));
      }
      expect([...walked.items].sort()).toEqual([...expected].sort());
    }
    expect((await walkList(aggregated, 'tools/list')).items).toEqual(
      expect.arrayContaining(['pager__tool-1', 'pager__tool-12', 'everything__echo', 'memory__read_graph']),
    );
  });

  it('refuses a cursor it did not issue with -32602 and a reason on every aggregated list', async () => {
    const client = await open('/mcp');
    const attempts = [
      client.listTools({ cursor: 'garbage' }),
      client.listResources({ cursor: 'garbage' }),
      client.listResourceTemplates({ cursor: 'garbage' }),
    ];
    for (const attempt of attempts) {
      const err = await attempt.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).code).toBe(-32602);
      expect((err as ProtocolError).message).toMatch(/cursor/);
      expect((err as ProtocolError).data).toMatchObject({ reason: 'INVALID_PARAMS' });
    }
    // The raw answer carries the reason too, and the session stays usable.
    const init = await rawPost(`${gw.url}/mcp`, initializeBody());
    const session = init.headers.get('mcp-session-id') as string;
    const raw = await rawPost(`${gw.url}/mcp`, rpc(2, 'tools/list', { cursor: 'garbage' }), {
      'mcp-session-id': session,
    });
    expect(raw.json.error).toMatchObject({ code: -32602, data: { reason: 'INVALID_PARAMS' } });
    // Well-formed but forged: an upstream index that does not exist, or another list's cursor.
    const forged = (value: unknown[]) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const [method, cursor] of [
      ['tools/list', forged(['tools/list', 99])],
      ['resources/list', forged(['tools/list', 0])],
      ['tools/list', forged([0])],
    ] as const) {
      const res = await rawPost(`${gw.url}/mcp`, rpc(3, method, { cursor }), { 'mcp-session-id': session });
      expect(res.json.error).toMatchObject({ code: -32602, data: { reason: 'INVALID_PARAMS' } });
    }
    expect((await client.listTools()).tools.length).toBeGreaterThan(0);
  });

  it('namespaces resource links and embedded resources in results so the client can read them back', async () => {
    const client = await open('/mcp');
    const links = await client.callTool({ name: 'everything__get-resource-links', arguments: { count: 2 } });
    const link = (links.content as Array<{ type: string; uri?: string }>).find(
      (c) => c.type === 'resource_link',
    );
    expect(link?.uri).toMatch(/^everything\+/);
    const read = await client.readResource({ uri: link!.uri! });
    expect(read.contents[0]?.uri).toBe(link!.uri);
    const embedded = await client.callTool({ name: 'everything__get-resource-reference', arguments: {} });
    const resource = (embedded.content as Array<{ type: string; resource?: { uri: string } }>).find(
      (c) => c.type === 'resource',
    );
    expect(resource?.resource?.uri).toMatch(/^everything\+/);
  });

  it('passes an upstream’s own cursors through /mcp/servers/{name} unchanged', async () => {
    const everything = await open('/mcp/servers/everything');
    // everything answers resources/list in one page: the passthrough adds no cursor of its own.
    const whole = await walkList(await rawSession(`${gw.url}/mcp/servers/everything`), 'resources/list');
    expect(whole.cursors).toEqual([]);
    expect(whole.items.length).toBeGreaterThan(1);
    expect(whole.items.every((uri) => uri.startsWith('demo://'))).toBe(true);
    expect(whole.items).toEqual(await sdkList(everything, 'resources/list'));

    const pager = await rawSession(`${gw.url}/mcp/servers/pager`);
    const resources = await walkList(pager, 'resources/list');
    expect(resources.cursors).toEqual(['opaque/resources/list/3+=', 'opaque/resources/list/6+=']);
    expect(resources.items).toEqual([1, 2, 3, 4, 5, 6, 7].map((i) => `pager://item/${i}`));
    const tools = await walkList(pager, 'tools/list');
    expect(tools.cursors).toEqual(['opaque/tools/list/5+=', 'opaque/tools/list/10+=']);
    expect(tools.items).toHaveLength(12);
    // A cursor the upstream never issued is the upstream's to refuse, in its own words.
    const refused = await pager('resources/list', { cursor: 'garbage' });
    expect(refused.error).toMatchObject({ code: -32602, message: 'pager did not issue cursor "garbage"' });
  });

  it('forwards notifications/resources/list_changed from the upstream to the client that caused it', async () => {
    const changed: string[] = [];
    let onChanged: (() => void) | undefined;
    const client = await open('/mcp', {}, (c) =>
      c.setNotificationHandler('notifications/resources/list_changed', () => {
        changed.push('resources');
        onChanged?.();
      }),
    );
    const bystander: string[] = [];
    await open('/mcp', {}, (c) =>
      c.setNotificationHandler('notifications/resources/list_changed', () => {
        bystander.push('resources');
      }),
    );
    // Starts this session's everything process before the call that changes its resources.
    const before = await sdkList(client, 'resources/list');
    const resourceUri = 'everything+demo://resource/session/coverage.txt.gz';
    expect(before).not.toContain(resourceUri);

    const arrived = new Promise<void>((ok) => (onChanged = ok));
    // everything registers a session resource for the gzipped file, which makes it announce list_changed.
    await client.callTool({
      name: 'everything__gzip-file-as-resource',
      arguments: {
        name: 'coverage.txt.gz',
        data: `data:text/plain;base64,${Buffer.from('protocol coverage').toString('base64')}`,
        outputType: 'resourceLink',
      },
    });
    await arrived;
    expect(changed).toEqual(['resources']);
    expect(await sdkList(client, 'resources/list')).toContain(resourceUri);
    const read = await client.readResource({ uri: resourceUri });
    expect(read.contents[0]?.uri).toBe(resourceUri);
    expect(bystander).toEqual([]);
  });

  it('answers ping on the aggregated and the passthrough endpoint, in both eras', async () => {
    for (const path of ['/mcp', '/mcp/servers/everything']) {
      const client = await open(path);
      await expect(client.ping()).resolves.toEqual({});
      const modern = await rawPost(`${gw.url}${path}`, rpc(7, 'ping', { _meta: modernMeta() }), {
        'mcp-protocol-version': MODERN,
      });
      expect(modern.status).toBe(200);
      expect(modern.json).toMatchObject({ jsonrpc: '2.0', id: 7, result: {} });
    }
  });

  it('answers server/discover for a 2026-07-28 request with every supported version', async () => {
    for (const path of ['/mcp', '/mcp/servers/everything']) {
      const res = await rawPost(`${gw.url}${path}`, rpc(3, 'server/discover', { _meta: modernMeta() }), {
        'mcp-protocol-version': MODERN,
      });
      expect(res.status).toBe(200);
      expect(res.json.id).toBe(3);
      expect(res.json.result.supportedVersions).toEqual(expect.arrayContaining(ALL_VERSIONS));
      expect(res.json.result.capabilities).toEqual(expect.objectContaining({ tools: expect.any(Object) }));
      expect(res.json.result.serverInfo.name).toBe('gatehouse');
    }
  });

  it('refuses an unsupported _meta protocol version with -32022 naming the supported ones', async () => {
    for (const method of ['server/discover', 'tools/list', 'ping']) {
      const res = await rawPost(`${gw.url}/mcp`, rpc(4, method, { _meta: modernMeta('2099-01-01') }), {
        'mcp-protocol-version': '2099-01-01',
      });
      expect(res.status).toBe(400);
      // 2026-07-28 (SEP-2575) names -32022 UnsupportedProtocolVersion, with the versions in data.
      expect(res.json.error.code).toBe(-32022);
      expect(res.json.id).toBe(4);
      expect(res.json.error.message).toContain('2099-01-01');
      expect(res.json.error.data.requested).toBe('2099-01-01');
      expect(res.json.error.data.supported).toEqual(expect.arrayContaining(ALL_VERSIONS));
    }
  });

  it('R11: replays the same tools/call under 2025-06-18, 2025-11-25 and 2026-07-28 with the same result', async () => {
    const calls = [
      { name: 'everything__echo', arguments: { message: 'same in every era' } },
      { name: 'everything__get-sum', arguments: { a: 19, b: 23 } },
      { name: 'memory__read_graph', arguments: {} },
    ];
    const results: Record<string, unknown[]> = {};
    for (const version of ALL_VERSIONS) {
      const url = `${gw.url}/mcp`;
      let headers: Record<string, string> = { 'mcp-protocol-version': version };
      let meta: Record<string, unknown> = {};
      if (version === MODERN) {
        meta = { _meta: modernMeta() };
      } else {
        const init = await rawPost(url, initializeBody(1, version));
        expect(init.json.result.protocolVersion).toBe(version);
        headers = { ...headers, 'mcp-session-id': init.headers.get('mcp-session-id') as string };
        await rawPost(url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), headers);
      }
      results[version] = [];
      for (const [i, call] of calls.entries()) {
        const res = await rawPost(url, rpc(10 + i, 'tools/call', { ...call, ...meta }), headers);
        expect(res.json.error).toBeUndefined();
        const { resultType, ...result } = res.json.result as Record<string, unknown>;
        // 2026-07-28 results say they are complete; older revisions have no such field.
        expect(resultType).toBe(version === MODERN ? 'complete' : undefined);
        results[version]?.push(result);
      }
    }
    expect(textOf(results['2025-06-18']?.[0] as { content: unknown })).toBe('Echo: same in every era');
    expect(textOf(results['2025-06-18']?.[1] as { content: unknown })).toMatch(/42/);
    expect(results['2025-11-25']).toEqual(results['2025-06-18']);
    expect(results[MODERN]).toEqual(results['2025-06-18']);
  });
});
