import { diffTarget } from './diff';
import { PolicyCliErrorCode } from './errors';
import { diffFiles, renderChanges } from './local-diff';

const labels = { before: 'version 3', after: 'policies' };

describe('diffFiles', () => {
  it('finds nothing when the files are the same, whatever their order', () => {
    const files = [
      { path: 'a.yaml', text: 'x: 1\n' },
      { path: 'b/c.yaml', text: 'y: 2\n' },
    ];
    expect(diffFiles(files, [...files].reverse(), labels)).toEqual([]);
    expect(renderChanges([])).toBe('');
  });

  it('gives one unified diff per added, removed or modified file, in path order', () => {
    const changes = diffFiles(
      [
        { path: 'gone.yaml', text: 'old: true\n' },
        { path: 'main.yaml', text: 'a: 1\nb: 2\n' },
      ],
      [
        { path: 'main.yaml', text: 'a: 1\nb: 3\n' },
        { path: 'added.yaml', text: 'new: true\n' },
      ],
      labels,
    );

    expect(changes.map((c) => [c.path, c.change])).toEqual([
      ['added.yaml', 'added'],
      ['gone.yaml', 'removed'],
      ['main.yaml', 'modified'],
    ]);
    const [added, removed, modified] = changes;
    expect(added?.patch).toContain('--- /dev/null\tversion 3\n+++ b/added.yaml\tpolicies\n');
    expect(added?.patch).toContain('+new: true');
    expect(removed?.patch).toContain('--- a/gone.yaml\tversion 3\n+++ /dev/null\tpolicies\n');
    expect(modified?.patch).toContain('@@ -1,2 +1,2 @@\n a: 1\n-b: 2\n+b: 3\n');
    expect(renderChanges(changes)).toBe(changes.map((c) => c.patch).join(''));
  });
});

describe('diffTarget', () => {
  it('reads one argument as a folder and two as version numbers', () => {
    expect(diffTarget(['policies'])).toEqual({ kind: 'dir', dir: 'policies' });
    expect(diffTarget(['3', '12'])).toEqual({ kind: 'versions', from: 3, to: 12 });
  });

  it('refuses two arguments that are not both version numbers', () => {
    expect(() => diffTarget(['policies', '3'])).toThrow(/"policies" is not a policy version number/);
    expect(() => diffTarget(['0', '3'])).toThrow(/"0" is not a policy version number/);
    expect(() => diffTarget(['1', '2', '3'])).toThrow(
      expect.objectContaining({ code: PolicyCliErrorCode.REFUSED }),
    );
  });
});
