import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { API_CLIENT_PATH, apiDocument, renderApiClient } from './api-client';

const root = resolve(__dirname, '../../..');

describe('the console typed client', () => {
  it('is generated from the current OpenAPI document (else: run npm run api:client)', () => {
    const fresh = renderApiClient(apiDocument(), root);
    const committed = readFileSync(join(root, API_CLIENT_PATH), 'utf8');
    if (fresh !== committed) {
      throw new Error(
        `${API_CLIENT_PATH} is stale: the API's declarations changed since it was generated. Run npm run api:client and commit the result.`,
      );
    }
    // The client names the operations of every controller lib.
    for (const operation of ['listPolicyVersions', 'openBypassGrant', 'listAuditEvents', 'getMe']) {
      expect(fresh).toContain(`${operation}: {`);
    }
  });
});
