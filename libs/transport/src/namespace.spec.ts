import { qualify, qualifyUri, unqualify, unqualifyUri } from './namespace';

describe('tool and prompt names', () => {
  it.each([
    ['fs', 'read_file', 'fs__read_file'],
    ['gh-prod', 'create__issue', 'gh-prod__create__issue'],
    ['a1', '__weird', 'a1____weird'],
  ])('maps %s / %s to %s and back', (server, name, qualified) => {
    expect(qualify(server, name)).toBe(qualified);
    expect(unqualify(qualified)).toEqual({ server, name });
  });

  it.each(['read_file', '__x', 'fs__', 'Fs__x', '1fs__x', 'my_srv__x'])(
    'refuses %s, which no configured server can have produced',
    (value) => {
      expect(unqualify(value)).toBeUndefined();
    },
  );

  it('makes cross-server shadowing impossible (R46): one qualified name, one server', () => {
    // "a" with tool "b__c" and "a__b" cannot both exist: server names have no underscore.
    expect(unqualify(qualify('a', 'b__c'))).toEqual({ server: 'a', name: 'b__c' });
  });
});

describe('resource URIs', () => {
  it.each([
    ['fs', 'file:///etc/hosts'],
    ['db', 'postgres://host/db/table'],
    ['git', 'git+ssh://example/repo'],
    ['tpl', 'demo://resource/{id}'],
  ])('maps %s / %s reversibly', (server, uri) => {
    const q = qualifyUri(server, uri);
    expect(q).toBe(`${server}+${uri}`);
    expect(unqualifyUri(q)).toEqual({ server, uri });
  });

  it.each(['file:///a', 'no-scheme', '+file:///a', 'Fs+file:///a', 'a/b+file:x'])('refuses %s', (value) => {
    expect(unqualifyUri(value)).toBeUndefined();
  });
});
