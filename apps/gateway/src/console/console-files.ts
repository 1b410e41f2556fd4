import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The checkout's root (where package.json is), from the sources (Jest) or from dist/. */
export function repositoryRoot(from = __dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** Where `npm run build` writes the console (vite's outDir): `<root>/dist/web`. */
export function consoleDir(): string {
  return join(repositoryRoot(), 'dist', 'web');
}

/** A fresh nonce for the one response that carries it (base64, 128 bits). */
export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

/**
 * The console's Content-Security-Policy. Scripts only from the gateway itself (no inline script,
 * no eval). Styles from the gateway plus `<style>` elements carrying this response's nonce:
 * Mantine writes its CSS variables and responsive style props into `<style>` elements at run
 * time, and takes the nonce through `getStyleNonce` (the page reads it from a meta tag); style
 * attributes React sets through the CSSOM are not inline markup and need no `'unsafe-inline'`.
 * Connections (fetch) go to the gateway only; the sign-in page is the IdP's, reached by top-level
 * navigation, which `form-action` does not cover and `connect-src` does not need.
 */
export function contentSecurityPolicy(nonce: string | undefined): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    nonce ? `style-src 'self' 'nonce-${nonce}'` : "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}

/** The headers every response under /console carries, whatever it is. */
export function consoleHeaders(nonce?: string): Record<string, string> {
  return {
    'content-security-policy': contentSecurityPolicy(nonce),
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
  };
}

/** The placeholder in web/index.html that each response of the page replaces with its nonce. */
export const NONCE_PLACEHOLDER = '__CSP_NONCE__';

/** index.html as built, read once; undefined while the console is not built. */
export class ConsoleIndex {
  private html: string | undefined;

  constructor(private readonly dir: string) {}

  /** The page with `nonce` in its meta tag, or undefined when dist/web/index.html is missing. */
  render(nonce: string): string | undefined {
    if (this.html === undefined) {
      const file = join(this.dir, 'index.html');
      if (!existsSync(file)) return undefined;
      this.html = readFileSync(file, 'utf8');
    }
    return this.html.split(NONCE_PLACEHOLDER).join(nonce);
  }
}
