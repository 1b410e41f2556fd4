import { z } from 'zod';

/**
 * Upstream server names become the namespace prefix `<server>__<name>`. They may not contain
 * an underscore at all, so the first `__` in a namespaced name always ends the server part and
 * two servers can never produce the same namespaced name (R46). The leading letter keeps
 * `<server>+<scheme>` a valid URI scheme for namespaced resource URIs.
 */
export const SERVER_NAME = /^[a-z](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

const timeouts = z
  .object({
    /** Time allowed to start the process or open the HTTP connection and finish the handshake. */
    connectMs: z.number().int().positive().default(30_000),
    /** Time allowed for one request; on expiry the call fails and a cancellation goes upstream. */
    requestMs: z.number().int().positive().default(60_000),
  })
  .strict()
  .prefault({});

const streamLimits = z
  .object({
    /** Largest single message (or SSE event) accepted from the upstream. */
    maxMessageBytes: z
      .number()
      .int()
      .positive()
      .default(8 * 1024 * 1024),
    /** Largest total a single response stream may carry. */
    maxStreamBytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024 * 1024),
    /** A response stream that stays silent this long is cut off. */
    idleMs: z.number().int().positive().default(120_000),
  })
  .strict()
  .prefault({});

const upstreamCommon = {
  description: z.string().optional(),
  tags: z.record(z.string(), z.string()).default({}),
  timeouts,
  limits: streamLimits,
  /** Requests in flight to this upstream at once (per replica); the rest wait. */
  maxConcurrency: z.number().int().positive().default(64),
  /**
   * Of those, how many one principal may hold on a shared connection (default a quarter of
   * maxConcurrency, at least 1); waiting principals are served in turn.
   */
  maxConcurrencyPerPrincipal: z.number().int().positive().optional(),
  /** Per-session connections of this upstream on one replica (default: only the replica-wide cap). */
  maxSessions: z.number().int().positive().optional(),
  /**
   * Protocol revision on the gateway-to-upstream hop: `auto` probes with `server/discover`
   * (2026-07-28) and falls back to the 2025 `initialize` handshake; `legacy` skips the probe.
   */
  protocol: z.enum(['auto', 'legacy', '2026-07-28']).default('auto'),
  /**
   * Extension request methods the passthrough endpoint forwards to this server besides the
   * spec's; any other unknown method gets -32601 from the gateway. They are not decided by policy.
   */
  extensionMethods: z.array(z.string().regex(/^\S+$/, 'a method name without spaces')).default([]),
  /** Tools an admin attests read-only (name globs); every other tool counts as a write. */
  readOnlyTools: z.array(z.string().min(1)).default([]),
  /**
   * What the upstream's `roots/list` gets. Unset: no connection is offered roots at all, because
   * a client's roots describe the client's machine while a stdio upstream runs on the gateway's
   * host, so a client answering `file:///` would widen what the server may touch there (its
   * secrets included). A list of file URIs: the gateway answers with them on every connection and
   * no client is asked. `client`: an opt-in for servers whose roots bind nothing on the gateway's
   * host; a per-session connection is offered its own 2025-era client's roots (a shared or
   * 2026-07-28 connection never is).
   */
  roots: z.union([z.literal('client'), z.array(z.url({ protocol: /^file$/ })).min(1)]).optional(),
  /**
   * SQL inspection (servers tagged `kind: postgres`): which tools carry SQL in which argument,
   * and the search_path unqualified names resolve against.
   */
  sql: z
    .object({
      tools: z.array(z.string().min(1)).default(['query']),
      argument: z.string().min(1).default('sql'),
      searchPath: z.array(z.string().min(1)).default(['public']),
    })
    .strict()
    .prefault({}),
};

const stdioUpstream = z
  .object({
    transport: z.literal('stdio'),
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().optional(),
    /** `shared`: one process serves every session; `per-session`: one process per client session. */
    sharing: z.enum(['shared', 'per-session']).default('shared'),
    ...upstreamCommon,
  })
  .strict();

const httpUpstream = z
  .object({
    transport: z.literal('http'),
    url: z.url({ protocol: /^https?$/ }),
    headers: z.record(z.string(), z.string()).default({}),
    sharing: z.enum(['shared', 'per-session']).default('per-session'),
    ...upstreamCommon,
  })
  .strict();

export const upstreamSchema = z.discriminatedUnion('transport', [stdioUpstream, httpUpstream]);

/** Console roles the gateway grants from IdP groups (auth.roles). */
export const CONSOLE_ROLES = ['admin', 'policy-approver', 'incident-responder', 'auditor'] as const;

/** Asymmetric JWS algorithms only: `none` and HMAC can never be configured (R3). */
const ASYMMETRIC_ALG = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^ES256K$/;

const tls = z
  .object({
    /** PEM certificate chain the HTTPS listener presents. */
    certFile: z.string().min(1),
    /** PEM private key of that certificate. */
    keyFile: z.string().min(1),
    /** PEM bundle of CAs whose client certificates are accepted (mTLS). */
    clientCaFile: z.string().min(1).optional(),
    /** `off`: no client certificate asked; `optional`: verified when sent; `required`: refused without one. */
    clientCertificate: z.enum(['off', 'optional', 'required']).default('off'),
  })
  .strict()
  .refine((t) => t.clientCertificate === 'off' || t.clientCaFile !== undefined, {
    message: 'clientCaFile is required when clientCertificate is optional or required',
    path: ['clientCaFile'],
  });

const auth = z
  .object({
    /**
     * `oidc`: bearer tokens from `issuer`. `dev`: the embedded development IdP (never in
     * production). `none`: no authentication at all, for isolated tests only; refused in production.
     * Default: `oidc` when an issuer is set, else `dev`.
     */
    mode: z.enum(['oidc', 'dev', 'none']).optional(),
    /** The IdP's issuer URL, exactly as it appears in `iss` (OIDC_ISSUER). */
    issuer: z.url({ protocol: /^https?$/ }).optional(),
    /** The gateway's resource URI (RFC 8707), required in `aud`; default `<publicUrl>/mcp`. */
    audience: z.string().min(1).optional(),
    /** Algorithms accepted from the issuer, pinned (R3). */
    algorithms: z
      .array(
        z.string().regex(ASYMMETRIC_ALG, 'only asymmetric algorithms (RS*, PS*, ES*, EdDSA) are allowed'),
      )
      .min(1)
      .default(['RS256', 'PS256', 'ES256', 'EdDSA']),
    /** Required JOSE `typ` header of access tokens, e.g. `at+jwt` (RFC 9068). */
    typ: z.string().optional(),
    /** Clock skew allowed on `exp`/`nbf`; capped at 60 s (R4). */
    clockSkewSeconds: z.number().int().min(0).max(60).default(60),
    /** Least time between two JWKS fetches caused by an unknown key id (R5). */
    jwksCooldownSeconds: z.number().int().positive().default(30),
    /** Validated tokens remembered until they expire (per replica). */
    tokenCacheSize: z.number().int().positive().default(10_000),
    /** Scopes every MCP request's token must carry; fewer gets 403 insufficient_scope. */
    requiredScopes: z.array(z.string().min(1)).default([]),
    /** RFC 7662 introspection for opaque (non-JWT) tokens, with this confidential client. */
    introspection: z
      .object({ clientId: z.string().min(1), clientSecret: z.string().min(1) })
      .strict()
      .optional(),
    /** Where the principal's attributes are read from in the token (dotted paths). */
    claims: z
      .object({
        groups: z.string().min(1).default('groups'),
        name: z.string().min(1).default('name'),
        email: z.string().min(1).default('email'),
      })
      .strict()
      .prefault({}),
    /** Console roles granted to members of these IdP groups. */
    roles: z
      .object(
        Object.fromEntries(CONSOLE_ROLES.map((r) => [r, z.array(z.string().min(1)).default([])])) as Record<
          (typeof CONSOLE_ROLES)[number],
          z.ZodDefault<z.ZodArray<z.ZodString>>
        >,
      )
      .strict()
      .prefault({}),
    /**
     * Service accounts (client-credentials tokens) by client id: the groups they act with. They
     * apply only to the client's own tokens (`sub` is the client id, the IdP marks the token as an
     * app's, or `sub` is the `subject` given here), never to a person's token issued to that client.
     */
    serviceAccounts: z
      .record(
        z.string().min(1),
        z
          .object({
            groups: z.array(z.string().min(1)).default([]),
            /** The `sub` of the client's own tokens when the IdP sets another one (Keycloak: the service-account user's id). */
            subject: z.string().min(1).optional(),
          })
          .strict(),
      )
      .default({}),
    /** Public client `gatehouse login` uses (device flow, then loopback redirect). */
    cliClientId: z.string().min(1).default('gatehouse-cli'),
    console: z
      .object({
        /** Client the console signs in with (authorization code + PKCE). */
        clientId: z.string().min(1).default('gatehouse-console'),
        /** Its secret, when the IdP registers it as confidential. */
        clientSecret: z.string().min(1).optional(),
        scopes: z.array(z.string().min(1)).default(['openid', 'profile', 'email']),
        /** A console session ends this long after sign-in, whatever the activity. */
        sessionTtlSeconds: z.number().int().positive().default(28_800),
        /** A console session unused this long ends. */
        idleTimeoutSeconds: z.number().int().positive().default(3_600),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

/**
 * The S3 (or S3-compatible: MinIO) bucket the audit trail is exported to, under Object Lock.
 * Credentials come from the AWS default chain (instance or pod role, `AWS_ACCESS_KEY_ID` and
 * `AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`), never from this file.
 */
const exportS3 = z
  .object({
    bucket: z.string().min(1),
    region: z.string().min(1).default('us-east-1'),
    /** Endpoint of an S3-compatible server (MinIO); absent means AWS. */
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    /** Path-style URLs (`endpoint/bucket/key`), which MinIO and most S3-compatible servers need. */
    forcePathStyle: z.boolean().default(false),
    /** Key prefix of every object the export writes. */
    prefix: z
      .string()
      .regex(/^([A-Za-z0-9._-]+\/)*$/, 'a prefix is empty or ends with "/", e.g. gatehouse/')
      .default(''),
    /** Object Lock COMPLIANCE retention of every object, in days from its upload (R19). */
    retentionDays: z.number().int().positive().default(2557),
  })
  .strict();

/** RFC 5424 §6.2.1 facility names, as `export.siem.<name>.facility` takes them. */
const SYSLOG_FACILITIES = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'ntp',
  'audit',
  'alert',
  'clock',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const;

/** The keys each SIEM type takes besides `type` (any other key set on it stops start-up). */
const SIEM_KEYS = {
  syslog: ['host', 'port', 'tls', 'format', 'facility', 'enterpriseNumber', 'maxMessageBytes', 'hostname'],
  splunk: ['url', 'token', 'tls', 'index', 'sourcetype', 'source', 'channel'],
  webhook: ['url', 'secret', 'tls'],
} as const;

/** One SIEM destination; which keys apply depends on `type` (see docs/export.md, docs/siem.md). */
const exportSiem = z
  .object({
    type: z.enum(['syslog', 'splunk', 'webhook']),
    /** syslog: receiver host and port (RFC 5424 over TCP, octet counting). */
    host: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    /**
     * TLS to the receiver; `caFile` is a PEM bundle to trust besides the system CAs (a private
     * CA), `certFile`/`keyFile` the client certificate a receiver demanding mutual TLS checks.
     * syslog only: `servername`, the name the receiver's certificate is checked against (default
     * `host`); over HTTPS (splunk, webhook) it is the URL's host.
     */
    tls: z
      .object({
        caFile: z.string().min(1).optional(),
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
        servername: z.string().min(1).optional(),
      })
      .strict()
      .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), {
        message: 'mutual TLS needs both certFile and keyFile (PEM paths), or neither',
        path: ['certFile'],
      })
      .optional(),
    /** syslog: payload format (default `json`). */
    format: z.enum(['cef', 'json']).optional(),
    /** syslog: facility of every message (default `authpriv`). */
    facility: z.enum(SYSLOG_FACILITIES).optional(),
    /** syslog: private enterprise number of the `gatehouse@<PEN>` structured data (default 32473). */
    enterpriseNumber: z.number().int().min(1).max(4_294_967_295).optional(),
    /**
     * syslog: largest message in bytes (default 8192, rsyslog's default `maxMessageSize`); a JSON
     * record over it is sent without its arguments. At least 1024: below that a record without
     * its arguments may not fit.
     */
    maxMessageBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .optional(),
    /** syslog: the HOSTNAME field (default the machine's host name). */
    hostname: z
      .string()
      .regex(
        /^[\x21-\x7e]{1,255}$/,
        'is not 1 to 255 printable ASCII characters without spaces (RFC 5424 HOSTNAME)',
      )
      .optional(),
    /** splunk, webhook: the endpoint URL. */
    url: z.url({ protocol: /^https?$/ }).optional(),
    /** splunk: the HEC token (from env). */
    token: z.string().min(1).optional(),
    /** splunk: the index (default the token's default index). */
    index: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9_-]*$/,
        'is not a Splunk index name (lowercase letters, digits, "_" and "-", starting with a letter or digit)',
      )
      .optional(),
    /** splunk: the sourcetype of every event (default `gatehouse:audit` / `gatehouse:alert`). */
    sourcetype: z.string().min(1).optional(),
    /** splunk: the source of every event (default `gatehouse`). */
    source: z.string().min(1).optional(),
    /** splunk: the `X-Splunk-Request-Channel` GUID a token with indexer acknowledgement requires. */
    channel: z
      .string()
      .regex(
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
        'is not a GUID such as 0f2b7c0e-8c43-4b55-a4e2-7c7ae0f0d0aa (e.g. from `uuidgen`)',
      )
      .optional(),
    /** webhook: the HMAC-SHA256 secret the body is signed with (from env). */
    secret: z.string().min(32, 'at least 32 characters, e.g. `openssl rand -hex 32`').optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const need = (key: 'host' | 'port' | 'url' | 'token' | 'secret') => {
      if (s[key] === undefined)
        ctx.addIssue({ code: 'custom', message: `${s.type} needs ${key}`, path: [key] });
    };
    if (s.type === 'syslog') {
      need('host');
      need('port');
    } else {
      need('url');
      need(s.type === 'splunk' ? 'token' : 'secret');
    }
    const allowed: readonly string[] = SIEM_KEYS[s.type];
    for (const [key, value] of Object.entries(s)) {
      if (key === 'type' || value === undefined || allowed.includes(key)) continue;
      const types = Object.entries(SIEM_KEYS)
        .filter(([, keys]) => (keys as readonly string[]).includes(key))
        .map(([t]) => t);
      ctx.addIssue({
        code: 'custom',
        message: `${key} applies to type ${types.join(' or ')}, not ${s.type}`,
        path: [key],
      });
    }
    if (s.type !== 'syslog' && s.tls?.servername !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `servername applies to type syslog; ${s.type} checks the certificate against the url's host`,
        path: ['tls', 'servername'],
      });
    }
    if (s.type !== 'syslog' && s.tls !== undefined && s.url?.startsWith('http:')) {
      ctx.addIssue({ code: 'custom', message: 'tls needs an https url', path: ['tls'] });
    }
  });

/** The audit export (issue 6): the worker ships every record to S3 and the SIEM through BullMQ. */
const exportConfig = z
  .object({
    /** Ship the audit trail to the sinks below. Needs `redis.url` (the queue lives in Redis). */
    enabled: z.boolean().default(false),
    /**
     * Run the relay and the sink processors inside the gateway (single node); false leaves them
     * to `npm run worker` processes.
     */
    inProcess: z.boolean().default(true),
    /** BullMQ key prefix in Redis (no `:`). */
    queuePrefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "_" and "-" only')
      .default('gh-export'),
    /** How often the relay turns new records into jobs and re-enqueues what Redis lost. */
    relayIntervalMs: z.number().int().positive().default(1000),
    /** Records per batch (one S3 object, one SIEM delivery) at most. */
    batchSize: z.number().int().positive().max(100_000).default(1000),
    /** A smaller batch is cut once its first record has waited this long. */
    batchMaxWaitMs: z.number().int().nonnegative().default(5000),
    /** Jobs each process runs at once, per sink. */
    concurrency: z.number().int().positive().default(4),
    /** A job whose worker stops renewing its lock (killed) is taken over by another worker after this long. */
    jobLockMs: z.number().int().positive().default(30_000),
    /** Attempts per job before it is a dead letter. */
    attempts: z.number().int().positive().default(12),
    /** First retry delay; each further retry doubles it (exponential backoff). */
    backoffMs: z.number().int().positive().default(1000),
    /** A dead letter is retried automatically this long after its last failure. */
    deadLetterRetrySeconds: z.number().int().positive().default(900),
    /** Alert (error log + metric) when a sink's oldest undelivered record is older than this (R32). */
    lagAlertSeconds: z.number().int().positive().default(300),
    /**
     * The reconciler (R22): every `intervalSeconds` the relay leader compares the records Postgres
     * holds with what each sink holds (S3: manifests and objects listed from the bucket; a SIEM:
     * its acknowledgements), ships again what the bucket lost, and alerts on a gap older than
     * `gapAlertSeconds`.
     */
    reconcile: z
      .object({
        /** Time between two comparisons. */
        intervalSeconds: z.number().int().positive().default(900),
        /** How many hours of records (by `occurred_at`) each comparison covers; 0: the whole trail. */
        lookbackHours: z.number().int().nonnegative().default(48),
        /** A record a sink does not hold and older than this is a gap: error log, metric, health. */
        gapAlertSeconds: z.number().int().positive().default(900),
      })
      .strict()
      .prefault({}),
    s3: exportS3.optional(),
    checkpoints: z
      .object({
        /** Time between two signed checkpoints (R18). */
        intervalSeconds: z.number().int().positive().default(3600),
        /** Ed25519 private key, PEM text or a path to a PEM file (from env: `${GATEHOUSE_CHECKPOINT_KEY}`). */
        signingKey: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    /** Security alerts sent to every SIEM at once (not with the next batch). */
    alerts: z
      .object({
        /** Denied calls by one principal within windowSeconds that raise a deny-burst alert. */
        denyBurst: z.number().int().positive().default(20),
        /** Rate-limited calls (everyone) within windowSeconds that raise a rate-limit-storm alert. */
        rateLimitStorm: z.number().int().positive().default(200),
        /** The fixed window bursts and storms are counted in. */
        windowSeconds: z.number().int().positive().default(60),
      })
      .strict()
      .prefault({}),
    /** SIEM destinations by name. */
    siem: z
      .record(
        z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'a-z, 0-9 and "-", starting with a letter'),
        exportSiem,
      )
      .default({}),
  })
  .strict()
  .prefault({})
  .refine((e) => !e.enabled || e.s3 === undefined || e.checkpoints.signingKey !== undefined, {
    message: 'the S3 export signs checkpoints: set export.checkpoints.signingKey (an Ed25519 private key)',
    path: ['checkpoints', 'signingKey'],
  });

/** Break glass (issue 7, R51): how long grants last and which servers need approval first. */
const bypass = z
  .object({
    /** A grant opened without a duration lasts this long (minutes). */
    defaultDurationMinutes: z.number().int().positive().default(60),
    /** No grant lasts longer (minutes); 8 h unless an organisation decides otherwise. */
    maxDurationMinutes: z.number().int().positive().max(1440).default(480),
    /** A break-glass grant's post-hoc review is overdue this long after opening (hours). */
    reviewWindowHours: z.number().int().positive().default(72),
    /**
     * Per server (name globs, first match wins): `immediate` (break glass now, review afterwards)
     * or `approval-first` (a second responder or admin approves before it takes effect).
     */
    modes: z
      .array(
        z
          .object({
            servers: z.array(z.string().min(1)).min(1),
            mode: z.enum(['immediate', 'approval-first']),
          })
          .strict(),
      )
      .default([{ servers: ['*'], mode: 'immediate' }]),
    /**
     * Alerts on grants (docs/bypass.md): to every SIEM of `export.siem` at once, and to the pager
     * webhook within 60 s, retried until it answers 2xx.
     */
    alerts: z
      .object({
        /** Each grant's uses are summarised per window of this many seconds (windows with uses only). */
        summarySeconds: z.number().int().positive().default(900),
        /** The pager: HTTPS POST of JSON lines signed like the SIEM webhook (docs/siem.md). */
        webhook: z
          .object({
            url: z.url({ protocol: /^https$/ }),
            /** The HMAC-SHA256 secret the body is signed with (from env). */
            secret: z.string().min(32, 'at least 32 characters, e.g. `openssl rand -hex 32`'),
            /** PEM bundle to trust for the pager's certificate besides the system CAs. */
            caFile: z.string().min(1).optional(),
            /** Bound on one delivery attempt. */
            timeoutMs: z.number().int().positive().max(30_000).default(10_000),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((b) => b.defaultDurationMinutes <= b.maxDurationMinutes, {
    message: 'defaultDurationMinutes must not exceed maxDurationMinutes',
    path: ['defaultDurationMinutes'],
  })
  .prefault({});

export const configSchema = z
  .object({
    server: z
      .object({
        port: z.number().int().min(0).max(65535).default(8080),
        host: z.string().default('127.0.0.1'),
        /** The URL clients use to reach this gateway; its host is always an allowed Host header. */
        publicUrl: z.url({ protocol: /^https?$/ }).optional(),
        bodyLimitBytes: z
          .number()
          .int()
          .positive()
          .default(4 * 1024 * 1024),
        maxJsonDepth: z.number().int().positive().default(64),
        /** Browser origins allowed to call /mcp; requests with any other Origin header get 403 (R7). */
        allowedOrigins: z.array(z.string()).default([]),
        /** Host header values accepted besides loopback names and publicUrl's host (DNS rebinding, R7). */
        allowedHosts: z.array(z.string()).default([]),
        /**
         * Key material list cursors are sealed with (AES-256-GCM, bound to the caller and endpoint).
         * Every replica needs the same; absent, the replicas share one generated and kept in Redis
         * (or this process keeps its own when there is no Redis).
         */
        cursorSecret: z.string().min(32, 'at least 32 characters, e.g. `openssl rand -hex 32`').optional(),
        headersTimeoutMs: z.number().int().positive().default(10_000),
        requestTimeoutMs: z.number().int().positive().default(300_000),
        /** Time given to in-flight calls on SIGTERM before the process exits. */
        shutdownGraceMs: z.number().int().nonnegative().default(10_000),
        /** Serve HTTPS (and optionally verify client certificates, mTLS) instead of plain HTTP. */
        tls: tls.optional(),
      })
      .strict()
      .prefault({}),
    database: z
      .object({
        /** Postgres URL; absent means the embedded PGlite database under dataDir. */
        url: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
        poolSize: z.number().int().positive().default(10),
        /**
         * Apply pending migrations at start (under an advisory lock, so replicas may race safely).
         * The embedded database always migrates; set false where a deploy step runs them instead.
         */
        migrate: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    redis: z
      .object({
        /** Redis URL; absent means in-process sessions and limits (a single replica only). */
        url: z.url({ protocol: /^rediss?$/ }).optional(),
        keyPrefix: z.string().default('gh:'),
      })
      .strict()
      .prefault({}),
    sessions: z
      .object({
        /** A session unused this long is forgotten and its per-session upstreams are closed. */
        idleTtlSeconds: z.number().int().positive().default(3600),
        /**
         * Per-session upstream connections (a process each for stdio) one principal may hold on a
         * replica; the next `initialize` (or first use in an aggregated session) is refused with 429.
         */
        upstreamsPerPrincipal: z.number().int().positive().default(32),
        /** Per-session upstream connections on a replica in total; beyond it new ones get 503. */
        upstreamsPerReplica: z.number().int().positive().default(256),
        /**
         * A 2026-07-28 principal's connection to a `per-session` server (it has no session to end
         * it) is closed, and its place in the caps given back, once unused this long.
         */
        principalConnectionIdleSeconds: z.number().int().positive().default(300),
      })
      .strict()
      .prefault({}),
    auth,
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
    rateLimit: z
      .object({
        /** Calls per minute one person or service may make across all tools (besides the rule's own limit). */
        perUserPerMinute: z.number().int().positive().default(600),
        /**
         * Request body bytes per minute one principal may send to /mcp, charged at the front door
         * before a body is parsed (from Content-Length before it is read).
         */
        bytesPerUserPerMinute: z
          .number()
          .int()
          .positive()
          .default(64 * 1024 * 1024),
        /** Calls per minute one tool (server × tool) may receive across all callers. */
        perToolPerMinute: z.number().int().positive().default(6000),
        /** Calls one principal may have in flight at once. */
        inFlightPerUser: z.number().int().positive().default(32),
        /** Longest a limiter call may wait for Redis before the replica's degraded limits apply (R29). */
        redisTimeoutMs: z.number().int().positive().default(50),
        /** While Redis is unreachable each replica allows this share of every limit (R28). */
        degradedShare: z.number().positive().max(1).default(0.5),
      })
      .strict()
      .prefault({}),
    audit: z
      .object({
        /** Argument paths always redacted in audit records, e.g. `password`, `auth.token`, `items.*.secret`. */
        redactPaths: z.array(z.string().min(1)).default([]),
        /** Records waiting for the writer, at most; beyond it calls wait (backpressure). */
        queueSize: z.number().int().positive().default(20_000),
        /** Records written in one statement, at most. */
        batchSize: z.number().int().positive().default(1_000),
        /**
         * Extra time a record may wait to join a bigger batch; 0 writes as soon as a lane is free
         * (records arriving during a write join the next batch: group commit without added latency).
         */
        flushMs: z.number().int().nonnegative().default(0),
        /**
         * The bridge's shadow and fallback reports (`POST /api/v1/audit/ingest`, docs/audit.md):
         * how old or how far ahead a reported call's time may be, and how often one principal may
         * report.
         */
        ingest: z
          .object({
            /**
             * A reported call may have started at most this long ago (hours; default 7 days, at most
             * 30). A fallback spool waits for the gateway to come back and for its owner's next
             * bridge start: a week covers an outage over a long weekend. Older calls are refused (the
             * bridge sets them aside for a manual import) rather than written into periods an
             * auditor may already have reviewed.
             */
            maxAgeHours: z
              .number()
              .int()
              .positive()
              .max(30 * 24)
              .default(7 * 24),
            /** …and started at most this far ahead of the gateway's clock (seconds of clock skew). */
            maxFutureSeconds: z.number().int().min(0).max(300).default(60),
            /** Ingest requests per principal per minute (each takes up to 500 calls). */
            perPrincipalPerMinute: z.number().int().positive().default(60),
            /** Ingest requests one principal may have in flight at once. */
            inFlightPerPrincipal: z.number().int().positive().default(2),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    export: exportConfig,
    policy: z
      .object({
        /** Policy files imported as the first active version when the database has none. */
        dir: z.string().default('./policies'),
        /** How long the argument-independent part of a decision is reused (at most). */
        decisionCacheSeconds: z.number().int().min(0).max(300).default(30),
        /**
         * Largest SQL text (UTF-8 bytes) the inspector parses: parsing is synchronous on the event
         * loop, so a longer statement is denied with this bound as its reason, unparsed.
         */
        maxInspectedSqlBytes: z.number().int().positive().default(262_144),
      })
      .strict()
      .prefault({}),
    bypass,
    /** Where embedded state (PGlite data, demo folder) lives. */
    dataDir: z.string().default('./.gatehouse'),
    upstreams: z
      .record(
        z.string().regex(SERVER_NAME, 'server names start with a letter and use a-z, 0-9 and "-" only'),
        upstreamSchema,
      )
      .default({}),
  })
  .strict();

export type GatehouseConfig = z.infer<typeof configSchema>;
export type UpstreamConfig = z.infer<typeof upstreamSchema>;
export type StdioUpstreamConfig = Extract<UpstreamConfig, { transport: 'stdio' }>;
export type HttpUpstreamConfig = Extract<UpstreamConfig, { transport: 'http' }>;
