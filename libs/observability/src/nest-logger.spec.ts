import { Writable } from 'node:stream';
import { createLogger } from './logger';
import { nestLogger } from './nest-logger';

describe('nestLogger', () => {
  it("13.6 R20: Nest's errors and warnings are JSON lines with the secret rules applied", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const nest = nestLogger(createLogger('info', sink));
    nest.error(
      'connect postgres://app:nest-pw-1@db/x failed',
      'Error: password=nest-pw-2\n    at x',
      'ExceptionsHandler',
    );
    nest.warn(new Error('token=nest-tok-3'), 'Module');
    nest.log('Mapped {/mcp, POST} route', 'RouterExplorer');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({ level: 50, nest: true, context: 'ExceptionsHandler' });
    expect(records[1]).toMatchObject({ level: 40, context: 'Module' });
    expect(lines.join('')).not.toMatch(/nest-pw-1|nest-pw-2|nest-tok-3/);
  });
});
