import { DEV_ONLY_BANNER, errorPage, escapeHtml, loginPage } from './pages';
import { SEEDED_USERS } from './users';

describe('dev IdP pages', () => {
  it('escapes everything that reaches HTML', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
    const html = errorPage('invalid_request', '<script>alert(1)</script>');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('says on every page that it is for development only', () => {
    expect(DEV_ONLY_BANNER).toBe('Gatehouse development IdP — for development only');
    expect(errorPage('x')).toContain(DEV_ONLY_BANNER);
    const login = loginPage('/interaction/1/login', '/interaction/1/abort', 'Gatehouse CLI', SEEDED_USERS);
    expect(login).toContain(DEV_ONLY_BANNER);
    for (const user of SEEDED_USERS) {
      expect(login).toContain(`<input type="hidden" name="username" value="${user.username}">`);
    }
  });
});
