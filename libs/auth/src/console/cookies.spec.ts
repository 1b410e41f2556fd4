import { parseConfigText } from '@gatehouse/config';
import { consoleCookies } from './cookies';

const configWith = (server: string) => parseConfigText(`server:\n${server}auth:\n  mode: none\n`, {}).config;

describe('consoleCookies', () => {
  it.each([
    ['plain HTTP without a public URL', '  port: 0\n', false],
    ['an http public URL', '  publicUrl: http://gatehouse.internal:8080\n', false],
    ['an https public URL (TLS ends at a proxy)', '  publicUrl: https://gatehouse.example.com\n', true],
    [
      'the gateway serving TLS itself',
      '  tls:\n    certFile: /etc/gatehouse/tls.crt\n    keyFile: /etc/gatehouse/tls.key\n',
      true,
    ],
  ])('for %s: Secure and __Host- = %s', (_what, server, secure) => {
    const cookies = consoleCookies(configWith(server));
    expect(cookies).toEqual(
      secure
        ? { session: '__Host-gatehouse_session', login: '__Host-gatehouse_login', secure: true }
        : { session: 'gatehouse_session', login: 'gatehouse_login', secure: false },
    );
  });
});
