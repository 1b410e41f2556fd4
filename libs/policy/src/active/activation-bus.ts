import { Redis } from 'ioredis';
import type { Logger } from '@gatehouse/observability';

/**
 * Tells every replica that something they hold in memory changed: the active policy version, or
 * (on its own topic) the bypass grants. The number is the topic's: a version, or a change counter.
 */
export abstract class ActivationBus {
  /** Announces that `version` is now active. Never throws: the periodic check covers a lost message. */
  abstract publish(version: number): Promise<void>;
  /** Calls `listener` with each announced version (this replica's own announcements included). */
  abstract subscribe(listener: (version: number) => void): Promise<void>;
  abstract close(): Promise<void>;
}

/** A single replica (no `redis.url`): the announcement stays in this process. */
export class LocalActivationBus extends ActivationBus {
  private readonly listeners: Array<(version: number) => void> = [];

  publish(version: number): Promise<void> {
    for (const listener of this.listeners) listener(version);
    return Promise.resolve();
  }

  subscribe(listener: (version: number) => void): Promise<void> {
    this.listeners.push(listener);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.listeners.length = 0;
    return Promise.resolve();
  }
}

/** Replicas sharing Redis: pub/sub on `<keyPrefix><topic>` (`policy:activated` unless told). */
export class RedisActivationBus extends ActivationBus {
  readonly channel: string;
  private readonly pub: Redis;
  private readonly sub: Redis;

  constructor(
    url: string,
    keyPrefix: string,
    private readonly logger: Logger,
    private readonly topic = 'policy:activated',
  ) {
    super();
    this.channel = `${keyPrefix}${topic}`;
    const options = { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false };
    this.pub = new Redis(url, options);
    this.sub = new Redis(url, options);
    // ioredis reconnects by itself; an outage is logged, and the periodic check covers what it missed.
    for (const client of [this.pub, this.sub]) {
      client.on('error', (err: Error) =>
        this.logger.warn({ err: err.message }, `${this.topic} bus: Redis error`),
      );
    }
  }

  async publish(version: number): Promise<void> {
    try {
      await this.pub.publish(this.channel, String(version));
    } catch (err) {
      this.logger.warn(
        { err, version },
        `${this.topic} bus: the announcement was not published; other replicas follow at their next check`,
      );
    }
  }

  async subscribe(listener: (version: number) => void): Promise<void> {
    this.sub.on('message', (channel: string, message: string) => {
      const version = Number(message);
      if (channel === this.channel && Number.isInteger(version)) listener(version);
    });
    await this.sub.subscribe(this.channel);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.pub.quit(), this.sub.quit()]);
  }
}
