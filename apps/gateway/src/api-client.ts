import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildOpenApiDocument, type OpenApiDocument } from '@gatehouse/auth';
import { AppModule } from './app.module';

/**
 * The console's typed client (`web/src/api/schema.d.ts`), generated with openapi-typescript from
 * the admin API's OpenAPI document, which is built in-process from the `@ApiRoute` declarations:
 * importing the gateway's root module loads every controller, and nothing is booted (no
 * database, no server). `npm run api:client` writes it; `api-client.spec.ts` fails when the
 * committed file is stale.
 */

/** Relative to the repository root. */
export const API_CLIENT_PATH = 'web/src/api/schema.d.ts';

/** The document the gateway serves at `/api/v1/openapi.json`, without starting it. */
export function apiDocument(): OpenApiDocument {
  // The import above is what loads (and so declares) every controller.
  void AppModule;
  return buildOpenApiDocument();
}

/** The client's TypeScript for `doc`, formatted as the repository formats it. */
export function renderApiClient(doc: OpenApiDocument, root: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-api-client-'));
  try {
    const input = join(dir, 'openapi.json');
    const output = join(dir, 'schema.d.ts');
    writeFileSync(input, JSON.stringify(doc));
    // openapi-typescript and prettier are ESM command-line tools: run them as such (also from Jest).
    execFileSync(
      process.execPath,
      [join(root, 'node_modules/openapi-typescript/bin/cli.js'), input, '--output', output],
      { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return execFileSync(
      process.execPath,
      [join(root, 'node_modules/prettier/bin/prettier.cjs'), '--stdin-filepath', API_CLIENT_PATH],
      { cwd: root, encoding: 'utf8', input: readFileSync(output, 'utf8') },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const root = resolve(__dirname, '../../../..');
  writeFileSync(join(root, API_CLIENT_PATH), renderApiClient(apiDocument(), root));
  process.stdout.write(`wrote ${API_CLIENT_PATH}\n`);
}
