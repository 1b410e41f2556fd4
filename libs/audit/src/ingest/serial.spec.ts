import { Serial } from './serial';

/** A piece of work that finishes when the test says so, recording when it started. */
function gate(log: string[], name: string) {
  let open!: () => void;
  const done = new Promise<void>((resolve) => (open = resolve));
  return {
    work: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
      return name;
    },
    open,
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Serial', () => {
  it('runs work of one key one at a time, in arrival order, even after a failure', async () => {
    const serial = new Serial(4);
    const log: string[] = [];
    const a = gate(log, 'a');
    const first = serial.run('alice', a.work);
    const failing = serial.run('alice', () => Promise.reject(new Error('store down')));
    const c = gate(log, 'c');
    const third = serial.run('alice', c.work);
    await tick();
    expect(log).toEqual(['start a']);
    a.open();
    await expect(first).resolves.toBe('a');
    await expect(failing).rejects.toThrow('store down');
    await tick();
    expect(log).toEqual(['start a', 'end a', 'start c']);
    c.open();
    await expect(third).resolves.toBe('c');
  });

  it('runs different keys side by side, never more than its slots at once', async () => {
    const serial = new Serial(2);
    const log: string[] = [];
    const gates = ['a', 'b', 'c'].map((k) => gate(log, k));
    const runs = gates.map((g, i) => serial.run(`key-${i}`, g.work));
    await tick();
    expect(log).toEqual(['start a', 'start b']);
    gates[1]?.open();
    await runs[1];
    await tick();
    expect(log).toEqual(['start a', 'start b', 'end b', 'start c']);
    gates[0]?.open();
    gates[2]?.open();
    await expect(Promise.all(runs)).resolves.toEqual(['a', 'b', 'c']);
  });
});
