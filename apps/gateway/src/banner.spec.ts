import { parseConfigText } from '@gatehouse/config';
import { startupBanner } from './banner';

describe('the start-up banner', () => {
  it('on the embedded start names the console, /mcp, the dev IdP and whom to sign in as', () => {
    const loaded = parseConfigText('database:\n  url: postgres://x/y\n', {});
    const text = startupBanner({ url: 'http://127.0.0.1:8080', loaded });
    expect(text).toContain('Console     http://127.0.0.1:8080/console');
    expect(text).toContain('http://127.0.0.1:8080/mcp');
    expect(text).toContain('http://127.0.0.1:8080/dev-idp');
    expect(text).toMatch(/carol \(admin\)/);
    expect(text).not.toMatch(/^\{/m);
  });

  it('with a real IdP names it instead of the demo users', () => {
    const loaded = parseConfigText(
      'database:\n  url: postgres://x/y\nauth:\n  issuer: https://idp.example.com\n',
      {},
    );
    const text = startupBanner({ url: 'https://gw.example.com', loaded });
    expect(text).toContain('at https://idp.example.com');
    expect(text).not.toContain('dev-idp');
    expect(text).not.toContain('carol');
  });
});
