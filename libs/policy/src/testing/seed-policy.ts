/**
 * The policy from the seed article ("A minimal policy"), verbatim: the example every test, bench
 * and document starts from, kept in one place so they cannot drift apart.
 */
export const SEED_POLICY = `- subject: { group: data-platform }
  resource: { server: postgres-prod }
  action: read
  conditions:
    schemas: [public, analytics]
    rate_limit_per_minute: 60

- subject: { group: support }
  resource: { server: zendesk }
  action: ['*']
  conditions:
    rate_limit_per_minute: 30
`;
