/**
 * In-process ordering for the ingest endpoint: work under one key runs one at a time, in arrival
 * order, and at most `slots` pieces of work run at once across all keys. A dozen lines, so no
 * dependency for it.
 */
export class Serial {
  private readonly tails = new Map<string, Promise<unknown>>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly slots: number) {}

  /** Runs `work` after every earlier `run` with this key has settled, once a slot is free. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    const mine = before.then(
      () => this.slot(work),
      () => this.slot(work),
    );
    const tail = mine.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return mine;
  }

  private async slot<T>(work: () => Promise<T>): Promise<T> {
    // A finished piece of work hands its slot straight to the next waiter, so none is overtaken.
    if (this.running >= this.slots) await new Promise<void>((handed) => this.waiting.push(handed));
    else this.running += 1;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}
