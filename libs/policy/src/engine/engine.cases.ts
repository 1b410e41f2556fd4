import type { ConsoleRole } from '@gatehouse/auth';
import type { Action, Decision, Relation } from '../types';
import { SEED_POLICY as SEED } from '../testing/seed-policy';

const DENY_WINS = `rules:
  - id: devs-github
    subject: { group: devs }
    resource: { server: github }
    action: '*'
  - id: no-delete-repo
    effect: deny
    subject: { any: true }
    resource: { server: github, tool: delete_repo }
    action: '*'
  - id: contractors-no-write
    effect: deny
    subject: { group: contractors }
    resource: { server: github }
    action: write
  - id: mallory-nothing
    effect: deny
    subject: { user: mallory }
    resource: { server: '*' }
    action: '*'
  - id: everyone-wiki
    subject: { any: true }
    resource: { server: wiki }
    action: read
`;

const GLOBS = `- id: read-gets
  subject: { any: true }
  resource: { server: 'git*', tool: ['get_*', 'list_*'] }
  action: read
- id: tickets
  subject: { group: support }
  resource: { server: [jira, 'zendesk-?'], tool: '{create,update}_ticket' }
  action: write
- id: restarts
  subject: { user: ops-bot }
  resource: { server: '*', tool: 'restart_*' }
  action: write
- id: bracket
  subject: { group: qa }
  resource: { server: 'env-[abc]', tool: 'run_[0-9]' }
  action: '*'
`;

const TAGS = `- id: dev-anything
  subject: { group: devs }
  resource: { tags: { env: dev } }
  action: '*'
- id: prod-pg-read
  subject: { group: devs }
  resource: { tags: { env: prod, kind: postgres } }
  action: read
- id: named-prod-server
  subject: { group: sre }
  resource: { server: billing, tags: { env: prod } }
  action: write
`;

const SUBJECTS = `- id: admins-all
  subject: { role: admin }
  resource: { server: '*' }
  action: '*'
- id: responders-read
  subject: { roles: [incident-responder, auditor] }
  resource: { server: '*' }
  action: read
- id: named-users
  subject: { users: [alice, bob] }
  resource: { server: wiki }
  action: [read, write]
- id: everyone-docs
  subject: { any: true }
  resource: { server: docs }
  action: read
- id: group-or-user
  subject: { user: carol, group: finance }
  resource: { server: ledger }
  action: [write]
`;

const CEL = `- id: small-queries
  subject: { group: analysts }
  resource: { server: search }
  action: read
  conditions:
    when: 'args.limit <= 100'
- id: own-tickets
  subject: { any: true }
  resource: { server: tickets, tool: update_ticket }
  action: write
  conditions:
    when: 'args.assignee == principal.subject'
- id: corp-mailers
  subject: { any: true }
  resource: { server: mail }
  action: write
  conditions:
    when: 'principal.email.endsWith("@corp.example") && "mailers" in principal.groups'
- id: office-hours
  subject: { group: ops }
  resource: { server: deploy }
  action: write
  conditions:
    when: 'now.getHours("UTC") >= 8 && now.getHours("UTC") < 18 && now.getDayOfWeek("UTC") >= 1 && now.getDayOfWeek("UTC") <= 5'
- id: no-force
  effect: deny
  subject: { any: true }
  resource: { server: deploy }
  action: write
  conditions:
    when: 'has(args.force) && args.force == true'
- id: metrics-getters
  subject: { group: ops }
  resource: { server: metrics }
  action: read
  conditions:
    when: 'tool.startsWith("get_") && server == "metrics"'
- id: ci-runner
  subject: { any: true }
  resource: { server: ci }
  action: write
  conditions:
    when: 'principal.kind == "service" && principal.clientId == "ci-runner"'
- id: public-paths
  subject: { group: analysts }
  resource: { server: files }
  action: read
  conditions:
    when: 'args.paths.all(p, p.startsWith("/public/"))'
- id: blobs-all
  subject: { any: true }
  resource: { server: blobs }
  action: '*'
- id: blobs-no-big
  effect: deny
  subject: { any: true }
  resource: { server: blobs }
  action: write
  conditions:
    when: 'args.size > 1000'
- id: before-2030
  subject: { group: temps }
  resource: { server: search }
  action: read
  conditions:
    when: 'now < timestamp("2030-01-01T00:00:00Z")'
- id: roles-in-cel
  subject: { any: true }
  resource: { server: audit-log }
  action: read
  conditions:
    when: '"auditor" in principal.roles || principal.name == "Root Cause"'
`;

const SCHEMAS_LIMITS = `- id: pg-analytics
  subject: { group: analysts }
  resource: { tags: { kind: postgres } }
  action: read
  conditions:
    schemas: [analytics]
    rate_limit_per_minute: 120
- id: pg-public
  subject: { group: analysts }
  resource: { server: pg-main }
  action: read
  conditions:
    schemas: [public, analytics]
    rate_limit_per_minute: 20
- id: pg-unlimited
  subject: { group: dbas }
  resource: { server: pg-main }
  action: '*'
- id: pg-dbas-limited
  subject: { group: dbas }
  resource: { server: pg-main }
  action: write
  conditions:
    rate_limit_per_minute: 5
- id: pg-no-secret
  effect: deny
  subject: { any: true }
  resource: { server: pg-main }
  action: '*'
  conditions:
    schemas: [secret]
`;

const WRITES = `- id: app-writes-public
  subject: { group: app }
  resource: { server: pg-rw }
  action: write
  conditions:
    schemas: [public]
- id: app-no-secret
  effect: deny
  subject: { user: c }
  resource: { server: pg-rw }
  action: write
  conditions:
    schemas: [Secret]
- id: mallory-out
  effect: deny
  subject: { user: m }
  resource: { server: pg-rw }
  action: '*'
`;

const ENFORCEMENT = `rules:
  - id: devs-read
    subject: { group: devs }
    resource: { server: '*' }
    action: read
enforcement:
  - { tags: { env: prod }, action: '*', mode: enforce }
  - { tags: { env: prod }, action: write, mode: shadow }
  - { tags: { env: staging }, action: '*', mode: shadow }
  - { tags: { env: staging, kind: postgres }, action: '*', mode: enforce }
  - { tags: {}, action: write, mode: shadow }
  - { tags: { env: dev }, action: write, mode: enforce }
`;

const ATTESTATIONS = `rules:
  - id: everyone-reads
    subject: { any: true }
    resource: { server: [github, fs] }
    action: read
tools:
  - { server: github, tool: 'search_*', action: read }
  - { server: fs, tool: read_file, action: read }
`;

export const POLICIES = {
  SEED,
  DENY_WINS,
  GLOBS,
  TAGS,
  SUBJECTS,
  CEL,
  SCHEMAS_LIMITS,
  WRITES,
  ENFORCEMENT,
  ATTESTATIONS,
} as const;

/** One call: who, where, what. `action` absent → decided by `classify` (attestations, readOnlyHint). */
export interface Call {
  user?: string;
  groups?: string[];
  roles?: ConsoleRole[];
  kind?: 'user' | 'service' | 'anonymous';
  name?: string;
  email?: string;
  clientId?: string;
  server: string;
  tags?: Record<string, string>;
  tool?: string;
  args?: Record<string, unknown>;
  action?: Action;
  /** Plain `schema.table` names (known relations). */
  touched?: string[];
  /** Known relations with schema and name apart (for quoted names with dots). */
  relations?: Relation[];
  /** What the call touches cannot be known, and why. */
  unknown?: string;
  now?: string;
  readOnlyHint?: boolean;
  readOnlyTools?: string[];
}

export interface Expected {
  outcome: Decision['outcome'];
  rules?: string[];
  /** `null`: the decision carries no rate limit. */
  rate?: number | null;
  reason?: string | RegExp;
  enforcement?: Decision['enforcement'];
  action?: Action;
}

export type EngineCase = [name: string, policy: keyof typeof POLICIES, call: Call, expected: Expected];

const dp = { user: 'alice', groups: ['data-platform'] };
const sup = { user: 'bob', groups: ['support'] };
const devs = { user: 'dan', groups: ['devs'] };
const an = { user: 'ann', groups: ['analysts'] };
const ops = { user: 'otto', groups: ['ops'] };
const weekday10 = '2026-03-04T10:00:00Z'; // a Wednesday
const pg = { server: 'postgres-prod', tags: { kind: 'postgres', env: 'prod' }, tool: 'query' };

export const CASES: EngineCase[] = [
  // The seed's policy, verbatim.
  [
    'seed: data-platform reads public',
    'SEED',
    { ...dp, ...pg, action: 'read', touched: ['public.orders'] },
    { outcome: 'allow', rules: ['policy.yaml#1'], rate: 60 },
  ],
  [
    'seed: data-platform reads analytics',
    'SEED',
    { ...dp, ...pg, action: 'read', touched: ['analytics.events'] },
    { outcome: 'allow', rate: 60 },
  ],
  [
    'seed: data-platform joins public and analytics',
    'SEED',
    { ...dp, ...pg, action: 'read', touched: ['analytics.events', 'public.orders'] },
    { outcome: 'allow' },
  ],
  [
    'seed: data-platform read touching nothing',
    'SEED',
    { ...dp, ...pg, action: 'read', touched: [] },
    { outcome: 'allow', rate: 60 },
  ],
  [
    'seed: data-platform may not read secret',
    'SEED',
    { ...dp, ...pg, action: 'read', touched: ['secret.keys'] },
    {
      outcome: 'deny',
      rules: [],
      rate: null,
      reason: /allows only schemas public, analytics; the call touches secret\.keys/,
    },
  ],
  [
    'seed: data-platform may not read public and secret together',
    'SEED',
    { ...dp, ...pg, action: 'read', touched: ['public.orders', 'secret.keys'] },
    { outcome: 'deny', reason: /touches secret\.keys\)$/ },
  ],
  [
    'seed: 13.8 a quoted table named "secret.keys" in public is a public table',
    'SEED',
    { ...dp, ...pg, action: 'read', relations: [{ schema: 'public', name: 'secret.keys' }] },
    { outcome: 'allow' },
  ],
  [
    'seed: 13.8 a quoted schema named "public.x" is not public',
    'SEED',
    { ...dp, ...pg, action: 'read', relations: [{ schema: 'public.x', name: 'y' }] },
    { outcome: 'deny', reason: /the call touches "public\.x"\.y\)$/ },
  ],
  [
    'seed: 13.2 a read whose relations cannot be known never satisfies schemas',
    'SEED',
    { ...dp, ...pg, action: 'read', unknown: 'calls public.f(), whose body may touch any relation' },
    {
      outcome: 'deny',
      reason:
        /allows only schemas public, analytics; the relations the call touches cannot be known: calls public\.f\(\)/,
    },
  ],
  [
    'seed: a schema prefix is not the schema',
    'SEED',
    { ...dp, ...pg, action: 'read', touched: ['publicity.t'] },
    { outcome: 'deny' },
  ],
  [
    'seed: data-platform may not write postgres-prod',
    'SEED',
    { ...dp, ...pg, action: 'write', touched: ['public.orders'] },
    { outcome: 'deny', reason: 'no rule allows user "alice" to write postgres-prod/query' },
  ],
  [
    'seed: support may not read postgres-prod',
    'SEED',
    { ...sup, ...pg, action: 'read', touched: ['public.orders'] },
    { outcome: 'deny' },
  ],
  [
    'seed: support reads zendesk',
    'SEED',
    { ...sup, server: 'zendesk', tool: 'search_tickets', action: 'read' },
    { outcome: 'allow', rules: ['policy.yaml#2'], rate: 30 },
  ],
  [
    'seed: support writes zendesk',
    'SEED',
    { ...sup, server: 'zendesk', tool: 'update_ticket', action: 'write' },
    {
      outcome: 'allow',
      rate: 30,
      reason: 'user "bob" may write zendesk/update_ticket: allowed by rule "policy.yaml#2"',
    },
  ],
  [
    'seed: data-platform may not use zendesk',
    'SEED',
    { ...dp, server: 'zendesk', tool: 'search_tickets', action: 'read' },
    { outcome: 'deny' },
  ],
  [
    'seed: nobody else reaches a third server',
    'SEED',
    { ...dp, server: 'github', tool: 'get_issue', action: 'read' },
    { outcome: 'deny', rules: [] },
  ],
  [
    'seed: a user in no group is denied by default',
    'SEED',
    { user: 'nobody', ...pg, action: 'read', touched: [] },
    { outcome: 'deny' },
  ],
  [
    'seed: a member of both groups reads postgres',
    'SEED',
    { user: 'zoe', groups: ['support', 'data-platform'], ...pg, action: 'read', touched: ['public.t'] },
    { outcome: 'allow', rate: 60 },
  ],
  [
    'seed: a member of both groups writes zendesk',
    'SEED',
    { user: 'zoe', groups: ['support', 'data-platform'], server: 'zendesk', action: 'write' },
    { outcome: 'allow', rate: 30 },
  ],
  [
    'seed: group names are case-sensitive',
    'SEED',
    { user: 'al', groups: ['Data-Platform'], ...pg, action: 'read', touched: [] },
    { outcome: 'deny' },
  ],
  [
    'seed: server names are exact',
    'SEED',
    { ...dp, server: 'postgres-prod2', tags: pg.tags, tool: 'query', action: 'read', touched: [] },
    { outcome: 'deny' },
  ],

  // Explicit deny wins; nothing matching denies.
  [
    'deny-wins: devs read github',
    'DENY_WINS',
    { ...devs, server: 'github', tool: 'get_issue', action: 'read' },
    { outcome: 'allow', rules: ['devs-github'] },
  ],
  [
    'deny-wins: devs write github',
    'DENY_WINS',
    { ...devs, server: 'github', tool: 'create_issue', action: 'write' },
    { outcome: 'allow', rules: ['devs-github'] },
  ],
  [
    'deny-wins: delete_repo denied to devs despite their allow',
    'DENY_WINS',
    { ...devs, server: 'github', tool: 'delete_repo', action: 'write' },
    {
      outcome: 'deny',
      rules: ['no-delete-repo'],
      reason: 'user "dan" may not write github/delete_repo: denied by rule "no-delete-repo"',
    },
  ],
  [
    'deny-wins: delete_repo denied for read too',
    'DENY_WINS',
    { ...devs, server: 'github', tool: 'delete_repo', action: 'read' },
    { outcome: 'deny', rules: ['no-delete-repo'] },
  ],
  [
    'deny-wins: a contractor dev may read',
    'DENY_WINS',
    { user: 'c', groups: ['devs', 'contractors'], server: 'github', tool: 'get_issue', action: 'read' },
    { outcome: 'allow' },
  ],
  [
    'deny-wins: a contractor dev may not write',
    'DENY_WINS',
    { user: 'c', groups: ['devs', 'contractors'], server: 'github', tool: 'create_issue', action: 'write' },
    { outcome: 'deny', rules: ['contractors-no-write'] },
  ],
  [
    'deny-wins: two denies are both named',
    'DENY_WINS',
    { user: 'c', groups: ['devs', 'contractors'], server: 'github', tool: 'delete_repo', action: 'write' },
    {
      outcome: 'deny',
      rules: ['no-delete-repo', 'contractors-no-write'],
      reason: /denied by rules "no-delete-repo", "contractors-no-write"$/,
    },
  ],
  [
    'deny-wins: mallory denied everywhere, even on the wiki everyone reads',
    'DENY_WINS',
    { user: 'mallory', server: 'wiki', tool: 'get_page', action: 'read' },
    { outcome: 'deny', rules: ['mallory-nothing'] },
  ],
  [
    'deny-wins: everyone reads the wiki',
    'DENY_WINS',
    { user: 'x', server: 'wiki', tool: 'get_page', action: 'read' },
    { outcome: 'allow', rules: ['everyone-wiki'] },
  ],
  [
    'deny-wins: nobody writes the wiki',
    'DENY_WINS',
    { ...devs, server: 'wiki', tool: 'edit_page', action: 'write' },
    { outcome: 'deny', rules: [] },
  ],
  [
    'deny-wins: a deny for another user does not apply',
    'DENY_WINS',
    { user: 'mallory2', groups: ['devs'], server: 'github', tool: 'get_issue', action: 'read' },
    { outcome: 'allow' },
  ],
  [
    'deny-wins: an unknown server is denied by default',
    'DENY_WINS',
    { ...devs, server: 'gitlab', tool: 'get_issue', action: 'read' },
    { outcome: 'deny', reason: 'no rule allows user "dan" to read gitlab/get_issue' },
  ],

  // Globs.
  [
    'globs: get_* on github',
    'GLOBS',
    { user: 'u', server: 'github', tool: 'get_issue', action: 'read' },
    { outcome: 'allow', rules: ['read-gets'] },
  ],
  [
    'globs: list_* on gitlab (server glob)',
    'GLOBS',
    { user: 'u', server: 'gitlab', tool: 'list_merge_requests', action: 'read' },
    { outcome: 'allow' },
  ],
  [
    'globs: a tool outside the globs',
    'GLOBS',
    { user: 'u', server: 'github', tool: 'search_code', action: 'read' },
    { outcome: 'deny' },
  ],
  [
    'globs: glob is anchored at the start',
    'GLOBS',
    { user: 'u', server: 'github', tool: 'xget_issue', action: 'read' },
    { outcome: 'deny' },
  ],
  [
    'globs: server glob is anchored',
    'GLOBS',
    { user: 'u', server: 'my-github', tool: 'get_issue', action: 'read' },
    { outcome: 'deny' },
  ],
  [
    'globs: matching glob but wrong action',
    'GLOBS',
    { user: 'u', server: 'github', tool: 'get_issue', action: 'write' },
    { outcome: 'deny' },
  ],
  [
    'globs: * in a name matches slashes and dots',
    'GLOBS',
    { user: 'u', server: 'git.internal/x', tool: 'get_a/b.c', action: 'read' },
    { outcome: 'allow' },
  ],
  [
    'globs: brace alternative create',
    'GLOBS',
    { ...sup, server: 'jira', tool: 'create_ticket', action: 'write' },
    { outcome: 'allow', rules: ['tickets'] },
  ],
  [
    'globs: brace alternative update on zendesk-1 (?)',
    'GLOBS',
    { ...sup, server: 'zendesk-1', tool: 'update_ticket', action: 'write' },
    { outcome: 'allow' },
  ],
  [
    'globs: ? is exactly one character',
    'GLOBS',
    { ...sup, server: 'zendesk-12', tool: 'update_ticket', action: 'write' },
    { outcome: 'deny' },
  ],
  [
    'globs: a name outside the braces',
    'GLOBS',
    { ...sup, server: 'jira', tool: 'delete_ticket', action: 'write' },
    { outcome: 'deny' },
  ],
  [
    'globs: server * with tool glob',
    'GLOBS',
    { user: 'ops-bot', server: 'anything', tool: 'restart_service', action: 'write' },
    { outcome: 'allow', rules: ['restarts'] },
  ],
  [
    'globs: server * but tool glob misses',
    'GLOBS',
    { user: 'ops-bot', server: 'anything', tool: 'stop_service', action: 'write' },
    { outcome: 'deny' },
  ],
  [
    'globs: bracket classes match',
    'GLOBS',
    { user: 'q', groups: ['qa'], server: 'env-b', tool: 'run_7', action: 'write' },
    { outcome: 'allow', rules: ['bracket'] },
  ],
  [
    'globs: bracket classes miss',
    'GLOBS',
    { user: 'q', groups: ['qa'], server: 'env-d', tool: 'run_7', action: 'read' },
    { outcome: 'deny' },
  ],
  [
    'globs: digit range misses letters',
    'GLOBS',
    { user: 'q', groups: ['qa'], server: 'env-a', tool: 'run_x', action: 'read' },
    { outcome: 'deny' },
  ],

  // Server tags.
  [
    'tags: devs do anything on env=dev',
    'TAGS',
    { ...devs, server: 'scratch', tags: { env: 'dev' }, tool: 'drop_table', action: 'write' },
    { outcome: 'allow', rules: ['dev-anything'] },
  ],
  [
    'tags: extra server tags do not matter',
    'TAGS',
    { ...devs, server: 'scratch', tags: { env: 'dev', team: 'x' }, tool: 't', action: 'read' },
    { outcome: 'allow' },
  ],
  [
    'tags: devs may not write env=prod',
    'TAGS',
    { ...devs, server: 'pg1', tags: { env: 'prod', kind: 'postgres' }, tool: 'query', action: 'write' },
    { outcome: 'deny' },
  ],
  [
    'tags: devs read prod postgres (all tags match)',
    'TAGS',
    { ...devs, server: 'pg1', tags: { env: 'prod', kind: 'postgres' }, tool: 'query', action: 'read' },
    { outcome: 'allow', rules: ['prod-pg-read'] },
  ],
  [
    'tags: one tag missing is no match',
    'TAGS',
    { ...devs, server: 'redis1', tags: { env: 'prod' }, tool: 'get', action: 'read' },
    { outcome: 'deny' },
  ],
  [
    'tags: a different tag value is no match',
    'TAGS',
    { ...devs, server: 'scratch', tags: { env: 'development' }, tool: 't', action: 'read' },
    { outcome: 'deny' },
  ],
  [
    'tags: untagged server',
    'TAGS',
    { ...devs, server: 'scratch', tags: {}, tool: 't', action: 'read' },
    { outcome: 'deny' },
  ],
  [
    'tags: server and tags both required (match)',
    'TAGS',
    { user: 's', groups: ['sre'], server: 'billing', tags: { env: 'prod' }, tool: 'refund', action: 'write' },
    { outcome: 'allow', rules: ['named-prod-server'] },
  ],
  [
    'tags: server and tags both required (tag differs)',
    'TAGS',
    {
      user: 's',
      groups: ['sre'],
      server: 'billing',
      tags: { env: 'staging' },
      tool: 'refund',
      action: 'write',
    },
    { outcome: 'deny' },
  ],
  [
    'tags: server and tags both required (server differs)',
    'TAGS',
    {
      user: 's',
      groups: ['sre'],
      server: 'billing2',
      tags: { env: 'prod' },
      tool: 'refund',
      action: 'write',
    },
    { outcome: 'deny' },
  ],

  // Subjects: roles, any, users, either of several.
  [
    'subjects: admin role does anything anywhere',
    'SUBJECTS',
    { user: 'carol', roles: ['admin'], server: 'github', tool: 'delete_repo', action: 'write' },
    { outcome: 'allow', rules: ['admins-all'] },
  ],
  [
    'subjects: incident-responder reads anywhere',
    'SUBJECTS',
    { user: 'erin', roles: ['incident-responder'], server: 'github', tool: 'get_issue', action: 'read' },
    { outcome: 'allow', rules: ['responders-read'] },
  ],
  [
    'subjects: incident-responder may not write',
    'SUBJECTS',
    { user: 'erin', roles: ['incident-responder'], server: 'github', tool: 'x', action: 'write' },
    { outcome: 'deny' },
  ],
  [
    'subjects: auditor (second role of the list) reads',
    'SUBJECTS',
    { user: 'frank', roles: ['auditor'], server: 'x', tool: 'y', action: 'read' },
    { outcome: 'allow' },
  ],
  [
    'subjects: policy-approver has no rule',
    'SUBJECTS',
    { user: 'dave', roles: ['policy-approver'], server: 'x', tool: 'y', action: 'read' },
    { outcome: 'deny' },
  ],
  [
    'subjects: a group named like a role is not the role',
    'SUBJECTS',
    { user: 'g', groups: ['admin'], server: 'x', tool: 'y', action: 'read' },
    { outcome: 'deny' },
  ],
  [
    'subjects: named user alice writes the wiki',
    'SUBJECTS',
    { user: 'alice', server: 'wiki', tool: 'edit', action: 'write' },
    { outcome: 'allow', rules: ['named-users'] },
  ],
  [
    'subjects: named user bob reads the wiki',
    'SUBJECTS',
    { user: 'bob', server: 'wiki', tool: 'get', action: 'read' },
    { outcome: 'allow' },
  ],
  [
    'subjects: a user not named',
    'SUBJECTS',
    { user: 'eve', server: 'wiki', tool: 'get', action: 'read' },
    { outcome: 'deny' },
  ],
  [
    'subjects: users match the subject, not the name',
    'SUBJECTS',
    { user: 'u-123', name: 'alice', server: 'wiki', tool: 'get', action: 'read' },
    { outcome: 'deny' },
  ],
  [
    'subjects: any covers users',
    'SUBJECTS',
    { user: 'eve', server: 'docs', tool: 'get', action: 'read' },
    { outcome: 'allow', rules: ['everyone-docs'] },
  ],
  [
    'subjects: any covers service accounts',
    'SUBJECTS',
    { user: 'svc', kind: 'service', server: 'docs', tool: 'get', action: 'read' },
    { outcome: 'allow', reason: 'service account "svc" may read docs/get: allowed by rule "everyone-docs"' },
  ],
  [
    'subjects: any covers anonymous callers (auth.mode none)',
    'SUBJECTS',
    { user: 'anonymous', kind: 'anonymous', server: 'docs', tool: 'get', action: 'read' },
    { outcome: 'allow' },
  ],
  [
    'subjects: user or group: the user',
    'SUBJECTS',
    { user: 'carol', server: 'ledger', tool: 'post', action: 'write' },
    { outcome: 'allow', rules: ['group-or-user'] },
  ],
  [
    'subjects: user or group: the group',
    'SUBJECTS',
    { user: 'fin', groups: ['finance'], server: 'ledger', tool: 'post', action: 'write' },
    { outcome: 'allow' },
  ],
  [
    'subjects: action list [write] excludes read',
    'SUBJECTS',
    { user: 'fin', groups: ['finance'], server: 'ledger', tool: 'get', action: 'read' },
    { outcome: 'deny' },
  ],
  [
    'subjects: two allows are both named',
    'SUBJECTS',
    { user: 'alice', roles: ['admin'], server: 'wiki', tool: 'get', action: 'read' },
    { outcome: 'allow', rules: ['admins-all', 'named-users'] },
  ],

  // CEL conditions over args, principal, server, tool, now.
  [
    'cel: args.limit within bound',
    'CEL',
    { ...an, server: 'search', tool: 'q', args: { limit: 50 }, action: 'read' },
    { outcome: 'allow', rules: ['small-queries'] },
  ],
  [
    'cel: args.limit at bound',
    'CEL',
    { ...an, server: 'search', tool: 'q', args: { limit: 100 }, action: 'read' },
    { outcome: 'allow' },
  ],
  [
    'cel: args.limit above bound',
    'CEL',
    { ...an, server: 'search', tool: 'q', args: { limit: 101 }, action: 'read' },
    { outcome: 'deny', rules: [] },
  ],
  [
    'cel: a fractional limit compares as a number',
    'CEL',
    { ...an, server: 'search', tool: 'q', args: { limit: 99.5 }, action: 'read' },
    { outcome: 'allow' },
  ],
  [
    'cel: a missing argument is an evaluation error and denies (R10)',
    'CEL',
    { ...an, server: 'search', tool: 'q', args: {}, action: 'read' },
    {
      outcome: 'deny',
      rules: ['small-queries'],
      reason: 'policy engine error: the condition of rule "small-queries" failed: No such key: limit',
    },
  ],
  [
    'cel: a wrongly typed argument is an evaluation error and denies (R10)',
    'CEL',
    { ...an, server: 'search', tool: 'q', args: { limit: 'ten' }, action: 'read' },
    {
      outcome: 'deny',
      reason: /^policy engine error: the condition of rule "small-queries" failed: no such overload/,
    },
  ],
  [
    'cel: args equal the principal subject',
    'CEL',
    { user: 'tom', server: 'tickets', tool: 'update_ticket', args: { assignee: 'tom' }, action: 'write' },
    { outcome: 'allow', rules: ['own-tickets'] },
  ],
  [
    "cel: someone else's ticket",
    'CEL',
    { user: 'tom', server: 'tickets', tool: 'update_ticket', args: { assignee: 'ann' }, action: 'write' },
    { outcome: 'deny' },
  ],
  [
    'cel: principal email and groups hold',
    'CEL',
    {
      user: 'm',
      email: 'm@corp.example',
      groups: ['mailers'],
      server: 'mail',
      tool: 'send',
      action: 'write',
    },
    { outcome: 'allow', rules: ['corp-mailers'] },
  ],
  [
    'cel: principal email from elsewhere',
    'CEL',
    {
      user: 'm',
      email: 'm@evil.example',
      groups: ['mailers'],
      server: 'mail',
      tool: 'send',
      action: 'write',
    },
    { outcome: 'deny' },
  ],
  [
    'cel: no email in the token reads as empty, not an error',
    'CEL',
    { user: 'm', groups: ['mailers'], server: 'mail', tool: 'send', action: 'write' },
    { outcome: 'deny', rules: [] },
  ],
  [
    'cel: now within office hours on a weekday',
    'CEL',
    { ...ops, server: 'deploy', tool: 'release', args: {}, action: 'write', now: weekday10 },
    { outcome: 'allow', rules: ['office-hours'] },
  ],
  [
    'cel: now after hours',
    'CEL',
    { ...ops, server: 'deploy', tool: 'release', args: {}, action: 'write', now: '2026-03-04T19:30:00Z' },
    { outcome: 'deny' },
  ],
  [
    'cel: now on a Sunday',
    'CEL',
    { ...ops, server: 'deploy', tool: 'release', args: {}, action: 'write', now: '2026-03-08T10:00:00Z' },
    { outcome: 'deny' },
  ],
  [
    'cel: a conditional deny that holds wins',
    'CEL',
    { ...ops, server: 'deploy', tool: 'release', args: { force: true }, action: 'write', now: weekday10 },
    { outcome: 'deny', rules: ['no-force'] },
  ],
  [
    'cel: a conditional deny that does not hold',
    'CEL',
    { ...ops, server: 'deploy', tool: 'release', args: { force: false }, action: 'write', now: weekday10 },
    { outcome: 'allow', rules: ['office-hours'] },
  ],
  [
    'cel: tool and server variables (match)',
    'CEL',
    { ...ops, server: 'metrics', tool: 'get_cpu', action: 'read' },
    { outcome: 'allow', rules: ['metrics-getters'] },
  ],
  [
    'cel: tool and server variables (miss)',
    'CEL',
    { ...ops, server: 'metrics', tool: 'set_cpu', action: 'read' },
    { outcome: 'deny' },
  ],
  [
    'cel: service account with the right client',
    'CEL',
    { user: 'ci', kind: 'service', clientId: 'ci-runner', server: 'ci', tool: 'build', action: 'write' },
    { outcome: 'allow', rules: ['ci-runner'] },
  ],
  [
    'cel: a user with the same client is not a service',
    'CEL',
    { user: 'ci', kind: 'user', clientId: 'ci-runner', server: 'ci', tool: 'build', action: 'write' },
    { outcome: 'deny' },
  ],
  [
    'cel: list macro over args (all hold)',
    'CEL',
    { ...an, server: 'files', tool: 'read', args: { paths: ['/public/a', '/public/b'] }, action: 'read' },
    { outcome: 'allow', rules: ['public-paths'] },
  ],
  [
    'cel: list macro over args (one fails)',
    'CEL',
    { ...an, server: 'files', tool: 'read', args: { paths: ['/public/a', '/etc/passwd'] }, action: 'read' },
    { outcome: 'deny' },
  ],
  [
    'cel: a deny condition that errors denies even where an allow holds (R10)',
    'CEL',
    { user: 'x', server: 'blobs', tool: 'put', args: {}, action: 'write' },
    {
      outcome: 'deny',
      rules: ['blobs-no-big'],
      reason: /^policy engine error: the condition of rule "blobs-no-big" failed/,
    },
  ],
  [
    'cel: the same deny not holding lets the allow through',
    'CEL',
    { user: 'x', server: 'blobs', tool: 'put', args: { size: 10 }, action: 'write' },
    { outcome: 'allow', rules: ['blobs-all'] },
  ],
  [
    'cel: the same deny holding',
    'CEL',
    { user: 'x', server: 'blobs', tool: 'put', args: { size: 5000 }, action: 'write' },
    { outcome: 'deny', rules: ['blobs-no-big'] },
  ],
  [
    'cel: the deny is write-only, so a read skips it',
    'CEL',
    { user: 'x', server: 'blobs', tool: 'get', args: {}, action: 'read' },
    { outcome: 'allow' },
  ],
  [
    'cel: timestamp comparison before the cut-off',
    'CEL',
    {
      user: 't',
      groups: ['temps'],
      server: 'search',
      tool: 'q',
      action: 'read',
      now: '2029-12-31T23:59:59Z',
    },
    { outcome: 'allow', rules: ['before-2030'] },
  ],
  [
    'cel: timestamp comparison after the cut-off',
    'CEL',
    {
      user: 't',
      groups: ['temps'],
      server: 'search',
      tool: 'q',
      action: 'read',
      now: '2030-01-01T00:00:00Z',
    },
    { outcome: 'deny' },
  ],
  [
    'cel: roles inside CEL',
    'CEL',
    { user: 'f', roles: ['auditor'], server: 'audit-log', tool: 'read', action: 'read' },
    { outcome: 'allow' },
  ],
  [
    'cel: principal name inside CEL',
    'CEL',
    { user: 'r', name: 'Root Cause', server: 'audit-log', tool: 'read', action: 'read' },
    { outcome: 'allow' },
  ],
  [
    'cel: neither role nor name',
    'CEL',
    { user: 'r', server: 'audit-log', tool: 'read', action: 'read' },
    { outcome: 'deny' },
  ],

  // Schemas and rate limits.
  [
    'limits: the smallest limit among matched allows',
    'SCHEMAS_LIMITS',
    {
      ...an,
      server: 'pg-main',
      tags: { kind: 'postgres' },
      tool: 'query',
      action: 'read',
      touched: ['analytics.e'],
    },
    { outcome: 'allow', rules: ['pg-analytics', 'pg-public'], rate: 20 },
  ],
  [
    'limits: a rule whose schemas do not hold does not limit',
    'SCHEMAS_LIMITS',
    {
      ...an,
      server: 'pg-main',
      tags: { kind: 'postgres' },
      tool: 'query',
      action: 'read',
      touched: ['public.t'],
    },
    { outcome: 'allow', rules: ['pg-public'], rate: 20 },
  ],
  [
    'limits: a single matched limit',
    'SCHEMAS_LIMITS',
    {
      ...an,
      server: 'pg-other',
      tags: { kind: 'postgres' },
      tool: 'query',
      action: 'read',
      touched: ['analytics.e'],
    },
    { outcome: 'allow', rules: ['pg-analytics'], rate: 120 },
  ],
  [
    'limits: an unlimited allow and a limited one: the limit applies',
    'SCHEMAS_LIMITS',
    { user: 'd', groups: ['dbas'], server: 'pg-main', tool: 'query', action: 'write', touched: ['public.t'] },
    { outcome: 'allow', rules: ['pg-unlimited', 'pg-dbas-limited'], rate: 5 },
  ],
  [
    'limits: an unlimited allow alone carries no limit',
    'SCHEMAS_LIMITS',
    { user: 'd', groups: ['dbas'], server: 'pg-main', tool: 'query', action: 'read', touched: ['public.t'] },
    { outcome: 'allow', rules: ['pg-unlimited'], rate: null },
  ],
  [
    'schemas: a deny with schemas applies to a relation in them',
    'SCHEMAS_LIMITS',
    { user: 'd', groups: ['dbas'], server: 'pg-main', tool: 'query', action: 'read', touched: ['secret.k'] },
    { outcome: 'deny', rules: ['pg-no-secret'], rate: null },
  ],
  [
    'schemas: 13.2 a deny with schemas applies when any relation is in them (secret joined with public)',
    'SCHEMAS_LIMITS',
    {
      user: 'd',
      groups: ['dbas'],
      server: 'pg-main',
      tool: 'query',
      action: 'read',
      touched: ['public.t', 'secret.k'],
    },
    {
      outcome: 'deny',
      rules: ['pg-no-secret'],
      reason: 'user "d" may not read pg-main/query: denied by rule "pg-no-secret"',
    },
  ],
  [
    'schemas: 13.2 a deny with schemas applies to a write touching secret among others',
    'SCHEMAS_LIMITS',
    {
      user: 'd',
      groups: ['dbas'],
      server: 'pg-main',
      tool: 'query',
      action: 'write',
      touched: ['analytics.e', 'public.t', 'secret.k'],
    },
    { outcome: 'deny', rules: ['pg-no-secret'] },
  ],
  [
    'schemas: 13.2 a deny with schemas does not apply to a call known to touch nothing',
    'SCHEMAS_LIMITS',
    { user: 'd', groups: ['dbas'], server: 'pg-main', tool: 'query', action: 'read', touched: [] },
    { outcome: 'allow', rules: ['pg-unlimited'] },
  ],
  [
    'schemas: 13.2 a deny with schemas applies when the relations cannot be known (fail closed)',
    'SCHEMAS_LIMITS',
    {
      user: 'd',
      groups: ['dbas'],
      server: 'pg-main',
      tool: 'query',
      action: 'write',
      unknown: 'DO may touch relations the inspector cannot name',
    },
    {
      outcome: 'deny',
      rules: ['pg-no-secret'],
      reason:
        'user "d" may not write pg-main/query: denied by rule "pg-no-secret" (it limits schemas, and the relations the call touches cannot be known: DO may touch relations the inspector cannot name)',
    },
  ],
  [
    'schemas: 13.8 a deny on secret does not apply to a public table named "secret.keys"',
    'SCHEMAS_LIMITS',
    {
      user: 'd',
      groups: ['dbas'],
      server: 'pg-main',
      tool: 'query',
      action: 'read',
      relations: [{ schema: 'public', name: 'secret.keys' }],
    },
    { outcome: 'allow', rules: ['pg-unlimited'] },
  ],
  [
    'schemas: 13.2 a deny with schemas ignores case (a rule naming Secret still covers secret)',
    'WRITES',
    { user: 'c', groups: ['app'], server: 'pg-rw', tool: 'query', action: 'write', touched: ['secret.k'] },
    { outcome: 'deny', rules: ['app-no-secret'] },
  ],
  [
    'schemas: an allow with schemas compares the schema exactly (PUBLIC is not public)',
    'WRITES',
    {
      user: 'w',
      groups: ['app'],
      server: 'pg-rw',
      tool: 'query',
      action: 'write',
      relations: [{ schema: 'PUBLIC', name: 't' }],
    },
    { outcome: 'deny', rules: [] },
  ],
  [
    'schemas: a deny without schemas is unaffected by what the call touches',
    'WRITES',
    { user: 'm', groups: ['app'], server: 'pg-rw', tool: 'query', action: 'write', touched: ['public.t'] },
    { outcome: 'deny', rules: ['mallory-out'] },
  ],
  [
    'writes: a write limited to public allows a write to public',
    'WRITES',
    { user: 'w', groups: ['app'], server: 'pg-rw', tool: 'query', action: 'write', touched: ['public.t'] },
    { outcome: 'allow', rules: ['app-writes-public'] },
  ],
  [
    'writes: a write limited to public does not allow one that also writes secret',
    'WRITES',
    {
      user: 'w',
      groups: ['app'],
      server: 'pg-rw',
      tool: 'query',
      action: 'write',
      touched: ['public.t', 'secret.keys'],
    },
    { outcome: 'deny', reason: /allows only schemas public; the call touches secret\.keys\)$/ },
  ],
  ...(
    [
      ['a DO block deleting from secret.*', 'DO may touch relations the inspector cannot name'],
      ['CREATE FUNCTION', 'CREATE FUNCTION may touch relations the inspector cannot name'],
      ['GRANT … ON SCHEMA secret', 'GRANT may touch relations the inspector cannot name'],
      ['CALL', 'CALL may touch relations the inspector cannot name'],
      ['a tool that carries no SQL', 'the call carries no SQL the gateway inspects'],
    ] as const
  ).map(([shape, why]): EngineCase => [
    `writes: 13.2 a write limited to public does not allow ${shape}`,
    'WRITES',
    { user: 'w', groups: ['app'], server: 'pg-rw', tool: 'query', action: 'write', unknown: why },
    {
      outcome: 'deny',
      rules: [],
      reason: `no rule allows user "w" to write pg-rw/query (rule "app-writes-public" allows only schemas public; the relations the call touches cannot be known: ${why})`,
    },
  ]),
  [
    'schemas: analysts outside their schemas',
    'SCHEMAS_LIMITS',
    {
      ...an,
      server: 'pg-other',
      tags: { kind: 'postgres' },
      tool: 'query',
      action: 'read',
      touched: ['public.t'],
    },
    {
      outcome: 'deny',
      reason: /rule "pg-analytics" allows only schemas analytics; the call touches public\.t/,
    },
  ],

  // Enforcement: most specific entry wins; shadow lets a would-deny through.
  [
    'enforcement: prod write would-deny is a shadow-deny (exact action beats * listed first)',
    'ENFORCEMENT',
    { ...devs, server: 'pg', tags: { env: 'prod' }, tool: 'q', action: 'write' },
    {
      outcome: 'shadow-deny',
      enforcement: 'shadow',
      reason: 'no rule allows user "dan" to write pg/q (shadow: the call proceeds)',
    },
  ],
  [
    'enforcement: prod read deny is enforced (exact action beats *)',
    'ENFORCEMENT',
    { user: 'x', server: 'pg', tags: { env: 'prod' }, tool: 'q', action: 'read' },
    { outcome: 'deny', enforcement: 'enforce' },
  ],
  [
    'enforcement: an allow under shadow is a plain allow',
    'ENFORCEMENT',
    { ...devs, server: 'pg', tags: { env: 'staging' }, tool: 'q', action: 'read' },
    { outcome: 'allow', enforcement: 'shadow' },
  ],
  [
    'enforcement: staging everything in shadow',
    'ENFORCEMENT',
    { user: 'x', server: 's', tags: { env: 'staging' }, tool: 'q', action: 'read' },
    { outcome: 'shadow-deny', enforcement: 'shadow' },
  ],
  [
    'enforcement: more tags beat fewer (staging postgres enforced)',
    'ENFORCEMENT',
    { user: 'x', server: 's', tags: { env: 'staging', kind: 'postgres' }, tool: 'q', action: 'read' },
    { outcome: 'deny', enforcement: 'enforce' },
  ],
  [
    'enforcement: the catch-all write shadow applies to untagged servers',
    'ENFORCEMENT',
    { user: 'x', server: 'u', tags: {}, tool: 'q', action: 'write' },
    { outcome: 'shadow-deny', enforcement: 'shadow' },
  ],
  [
    'enforcement: one matching tag beats the catch-all',
    'ENFORCEMENT',
    { user: 'x', server: 'd', tags: { env: 'dev' }, tool: 'q', action: 'write' },
    { outcome: 'deny', enforcement: 'enforce' },
  ],
  [
    'enforcement: no matching entry enforces',
    'ENFORCEMENT',
    { user: 'x', server: 'u', tags: {}, tool: 'q', action: 'read' },
    { outcome: 'deny', enforcement: 'enforce' },
  ],
  [
    'enforcement: no section at all enforces',
    'SEED',
    { user: 'x', server: 'u', tool: 'q', action: 'write' },
    { outcome: 'deny', enforcement: 'enforce' },
  ],

  // Attestations (policy `tools:` or config readOnlyTools) make a tool read; readOnlyHint never does (R47).
  [
    'attest: a policy-attested tool is a read',
    'ATTESTATIONS',
    { user: 'u', server: 'github', tool: 'search_code' },
    { outcome: 'allow', action: 'read', rules: ['everyone-reads'] },
  ],
  [
    'attest: an unattested tool is a write, so the read rule does not allow it',
    'ATTESTATIONS',
    { user: 'u', server: 'github', tool: 'create_issue' },
    { outcome: 'deny', action: 'write' },
  ],
  [
    'attest: readOnlyHint does not make a tool read (R47)',
    'ATTESTATIONS',
    { user: 'u', server: 'github', tool: 'create_issue', readOnlyHint: true },
    { outcome: 'deny', action: 'write' },
  ],
  [
    'attest: readOnlyHint false does not matter for an attested tool',
    'ATTESTATIONS',
    { user: 'u', server: 'fs', tool: 'read_file', readOnlyHint: false },
    { outcome: 'allow', action: 'read' },
  ],
  [
    'attest: an attestation for another server does not apply',
    'ATTESTATIONS',
    { user: 'u', server: 'fs', tool: 'search_files', readOnlyHint: true },
    { outcome: 'deny', action: 'write' },
  ],
  [
    'attest: a config attestation (readOnlyTools) is a read',
    'ATTESTATIONS',
    { user: 'u', server: 'fs', tool: 'list_directory', readOnlyTools: ['list_*'] },
    { outcome: 'allow', action: 'read' },
  ],
  [
    'attest: a config attestation glob that misses',
    'ATTESTATIONS',
    { user: 'u', server: 'fs', tool: 'write_file', readOnlyTools: ['list_*'], readOnlyHint: true },
    { outcome: 'deny', action: 'write' },
  ],
];
