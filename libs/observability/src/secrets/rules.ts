/**
 * The secret-detection rules (R20): well-known token shapes and credential-carrying syntax, each a
 * global regular expression. Shaped like the rule families of gitleaks and secretlint (an id, what it
 * finds, a pattern; ids follow gitleaks' names where one exists) so that a maintained rule set can
 * replace this table without touching the scanner (`scan.ts`), which needs `keywords` and `pattern`.
 *
 * Pattern conventions the scanner relies on:
 * - the `g` flag (every occurrence in a string is replaced);
 * - a match hides all of itself, unless the pattern has a named group `secret`: then only that
 *   group is hidden and the named groups `pre` (before it) and `post` (after it) are kept, so
 *   `password=hunter2` reads `password=[redacted]` and the reader still sees what was there;
 * - no nested unbounded quantifiers (every rule runs over up to `maxStringScan` characters, so
 *   each must be linear in the text).
 */
export interface SecretRule {
  /** Stable id, e.g. `aws-access-token` (gitleaks' rule id where it has one). */
  id: string;
  /** What the rule finds, for docs and tests. */
  description: string;
  /**
   * Lower-case strings one of which every match contains (gitleaks' `keywords`): the pattern runs
   * only on a text that holds one, so the common text with none costs one lower-casing and a few
   * substring searches instead of every pattern.
   */
  keywords: readonly string[];
  pattern: RegExp;
}

/**
 * Names of fields, parameters and settings whose value is a secret whatever it looks like. Used
 * whole for object keys ({@link SECRET_KEY}) and inside text for `name=value` / `name: value`.
 */
const SECRET_NAME =
  '(?:[A-Za-z0-9_.-]{0,64}?(?:password|passwd|passphrase|secret|token|api[-_]?key|apikey|access[-_]?key|private[-_]?key|credentials?|authori[sz]ation|session[-_]?id|signature)|(?:[A-Za-z0-9_.-]{0,64}?[-_.])?(?:pwd|pass|sig))';

/**
 * Object keys whose value is a secret, whatever its type (a string, a number, an array or a whole
 * object). Case-insensitive; `pass` and `sig` only as a whole word so `bypass` or `design` are kept.
 */
export const SECRET_KEY =
  /(pass(word|wd|phrase)|secret|token|api[-_]?key|access[-_]?key|authori[sz]ation|cookie|credential|private[-_]?key|session[-_]?id|signature)|(^|[^a-z])(pass|pwd|sig)([^a-z]|$)/i;

/**
 * The value after `name=` / `name: `: quoted (spaces allowed inside) or up to a separator; never
 * an earlier redaction, so scanning a redacted text again changes nothing.
 */
const VALUE = `(?!\\[redacted\\])(?<secret>"[^"\\n]{0,4096}"|'[^'\\n]{0,4096}'|[^\\s"'&,;<>)\\]}]{1,4096})`;

export const SECRET_RULES: readonly SecretRule[] = [
  {
    id: 'private-key',
    keywords: ['private key'],
    description:
      'a PEM private key block (RSA, EC, OpenSSH, PGP, encrypted), to its END line or the end of the text',
    pattern:
      /-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----|$)/g,
  },
  {
    id: 'aws-access-token',
    keywords: ['akia', 'asia', 'abia', 'acca', 'a3t'],
    description: 'an AWS access key id (AKIA…, ASIA… and the other documented prefixes)',
    pattern: /\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b/g,
  },
  {
    id: 'github-token',
    keywords: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'],
    description: 'a GitHub token: ghp_, gho_, ghu_, ghs_, ghr_ and fine-grained github_pat_',
    pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g,
  },
  {
    id: 'gitlab-pat',
    keywords: ['glpat-'],
    description: 'a GitLab personal access token (glpat-…)',
    pattern: /\bglpat-[A-Za-z0-9_-]{20,}/g,
  },
  {
    id: 'slack-token',
    keywords: ['xox', 'xapp-'],
    description: 'a Slack token (xoxb-, xoxp-, xoxa-, xoxo-, xoxr-, xoxs-, xapp-)',
    pattern: /\b(?:xox[abposr]|xapp)-[A-Za-z0-9-]{10,}/g,
  },
  {
    id: 'slack-webhook-url',
    keywords: ['hooks.slack.com'],
    description: 'a Slack incoming-webhook URL (the path is the credential)',
    pattern: /https:\/\/hooks\.slack\.com\/(?:services|workflows)\/[A-Za-z0-9+/_-]{20,}/g,
  },
  {
    id: 'stripe-access-token',
    keywords: ['_live_', '_test_'],
    description: 'a Stripe secret, restricted or publishable key (sk_/rk_/pk_ live or test)',
    pattern: /\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}/g,
  },
  {
    id: 'openai-anthropic-key',
    keywords: ['sk-'],
    description: 'an sk-… API key (OpenAI, Anthropic and similar)',
    pattern: /\bsk-(?:proj-|ant-(?:api\d\d-)?)?[A-Za-z0-9_-]{20,}/g,
  },
  {
    id: 'gcp-api-key',
    keywords: ['aiza'],
    description: 'a Google API key (AIza…)',
    pattern: /\bAIza[0-9A-Za-z_-]{35}/g,
  },
  {
    id: 'npm-access-token',
    keywords: ['npm_'],
    description: 'an npm access token (npm_…)',
    pattern: /\bnpm_[A-Za-z0-9]{36}\b/g,
  },
  {
    id: 'jwt',
    keywords: ['eyj'],
    description: 'a JSON Web Token (three base64url parts, the header starting eyJ)',
    pattern: /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
  },
  {
    id: 'authorization-scheme',
    keywords: ['bearer', 'basic'],
    description: 'the credential after Bearer or Basic, anywhere in a text (a header copied into a sentence)',
    pattern: /(?<pre>\b(?:bearer|basic)\s+)(?<secret>[A-Za-z0-9._~+/=-]{6,})/gi,
  },
  {
    id: 'url-userinfo',
    keywords: ['://'],
    description: 'the password in a URL (postgres://user:pass@host, https://user:pass@…)',
    // A password that is already a redaction marker (ours, or libs/db's `redacted`) is left alone.
    pattern:
      /(?<pre>\b[a-z][a-z0-9+.-]{0,30}:\/\/[^/\s:@]{0,256}:)(?!(?:\[redacted\]|redacted)@)(?<secret>[^/\s@]{1,1024})(?<post>@)/gi,
  },
  {
    id: 'sql-password',
    keywords: ['password', 'identified'],
    description:
      "SQL that sets a password: ALTER ROLE / CREATE USER … PASSWORD '…', OPTIONS (password '…'), IDENTIFIED BY '…'",
    pattern:
      /(?<pre>\b(?:password|identified\s+by)\s+)(?<secret>[Ee]?'(?:[^']|''){0,4096}'|\$(?<tag>[A-Za-z_]{0,16})\$[\s\S]{0,4096}?\$\k<tag>\$)/gi,
  },
  {
    id: 'credential-header',
    keywords: ['authorization', 'cookie', 'x-api-key'],
    description:
      'a credential header written out in a text (Authorization: …, Cookie: …), to the end of its line',
    pattern:
      /(?<pre>(?<![A-Za-z0-9-])(?:proxy-authorization|authorization|cookie|set-cookie|x-api-key)["']?\s{0,8}:\s{0,8})(?<secret>[^\r\n"']{1,4096})/gi,
  },
  {
    id: 'secret-assignment',
    keywords: ['pass', 'pwd', 'secret', 'token', 'key', 'credential', 'authori', 'session', 'sig'],
    description:
      'name=value or name: value where the name is secret-like (password=…, api_key: …, ?access_token=…, &sig=…, "client_secret": "…")',
    pattern: new RegExp(`(?<pre>(?<![A-Za-z0-9_.-])${SECRET_NAME}["']?\\s{0,8}[=:]\\s{0,8})${VALUE}`, 'gi'),
  },
];
