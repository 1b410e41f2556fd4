import type { SeededUser } from './users';

/** The line every page of the development IdP carries. */
export const DEV_ONLY_BANNER = 'Gatehouse development IdP — for development only';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const STYLE = `
body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#222}
.banner{background:#fff3cd;border:1px solid #e0b400;padding:.5rem .75rem;font-weight:600}
form{margin:.4rem 0}button{font:inherit;padding:.4rem .8rem;cursor:pointer;min-width:16rem;text-align:left}
.muted{color:#666}code{font-size:1.4rem}`;

/** A whole page: the development-only banner, a heading and the body (already escaped HTML). */
export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)} · ${escapeHtml(DEV_ONLY_BANNER)}</title>
<style>${STYLE}</style>
</head>
<body>
<p class="banner">${escapeHtml(DEV_ONLY_BANNER)}</p>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;
}

/** The login page: one form per seeded user, no password. */
export function loginPage(
  action: string,
  abortAction: string,
  clientName: string,
  users: readonly SeededUser[],
) {
  const forms = users
    .map(
      (user) => `<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="username" value="${escapeHtml(user.username)}">
<button type="submit">${escapeHtml(user.username)} — ${escapeHtml(user.name)} (${escapeHtml(user.groups.join(', '))})</button>
</form>`,
    )
    .join('\n');
  return page(
    'Sign in',
    `<p>${escapeHtml(clientName)} asks you to sign in. Pick a seeded user; there are no passwords.</p>
${forms}
<form method="post" action="${escapeHtml(abortAction)}"><button type="submit" class="muted">Cancel</button></form>`,
  );
}

export function errorPage(error: string, description?: string): string {
  return page(
    'Something went wrong',
    `<p><strong>${escapeHtml(error)}</strong></p>${description ? `<p>${escapeHtml(description)}</p>` : ''}`,
  );
}

/** The user-code entry page of the device flow (`form` is oidc-provider's, with its CSRF token). */
export function deviceCodeInputPage(form: string, problem?: string): string {
  return page(
    'Connect a device',
    `<p>${problem ? `<strong>${escapeHtml(problem)}</strong>` : 'Enter the code shown in your terminal.'}</p>
${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`,
  );
}

export function deviceConfirmPage(form: string, clientName: string, userCode: string): string {
  return page(
    'Confirm the device',
    `<p>${escapeHtml(clientName)} wants to sign in. Check that your terminal shows this code:</p>
<p><code>${escapeHtml(userCode)}</code></p>
${form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes" class="muted">Cancel</button>`,
  );
}

export function deviceSuccessPage(clientName: string): string {
  return page(
    'Device connected',
    `<p>You are signed in to ${escapeHtml(clientName)}. Close this page and return to your terminal.</p>`,
  );
}

export function logoutPage(form: string): string {
  return page(
    'Sign out',
    `<p>Sign out of the development IdP?</p>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>
<button type="submit" form="op.logoutForm" class="muted">Stay signed in</button>`,
  );
}

export function signedOutPage(): string {
  return page('Signed out', '<p>You are signed out of the development IdP.</p>');
}
