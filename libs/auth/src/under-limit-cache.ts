import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { RedisClient } from '@keyturn/queue';

/** Redis's channel for invalidation messages (CLIENT TRACKING, RESP2). */
const INVALIDATE = '__redis__:invalidate';
/** More addresses than this and the set starts over: memory stays bounded whatever the traffic. */
const MAX_ENTRIES = 100_000;

/**
 * The limiter's counters known to be under the limit, kept in this process
 * and dropped the moment Redis says they changed: server-assisted client-side
 * caching. A connection of its own turns on CLIENT TRACKING in broadcast mode
 * for the limiter's key prefix, redirected to itself, and subscribes to the
 * invalidation channel. Redis then tells this process about every write of
 * any counter under the prefix, by any process (a failure counted on another
 * replica, a counter set by hand, an expiry), so an address blocked anywhere
 * is blocked here as soon as the message arrives: the same moment a GET sent
 * then would have seen it.
 *
 * The set is used only while that connection is subscribed: before, while it
 * reconnects, on a Redis Cluster (tracking is per node) or on a server that
 * refuses tracking, it stays empty and every request asks Redis, as it did
 * before this cache. Losing the connection empties it, since invalidations
 * sent meanwhile are lost. An answer is remembered only if no invalidation of
 * its counter arrived while it was on its way and the connection stayed
 * subscribed all along (an `Ask` goes stale), so a reply overtaken by a change
 * is used once and not kept.
 */
export class UnderLimitCache {
  private readonly logger = new Logger('AuthLimiter');
  private readonly known = new Set<string>();
  /** The questions to Redis on their way, by counter. */
  private readonly asking = new Map<string, Set<Ask>>();
  private readonly sub: Redis | null;
  private subscribed = false;
  private subscriberId: number | null = null;
  /** Bumped by every (re)connection and every loss of it: a set-up that outlived its connection is void. */
  private connection = 0;

  constructor(redis: RedisClient, private readonly prefix: string) {
    // Tracking is per node on a cluster: there, every request asks Redis.
    this.sub = redis instanceof Redis ? redis.duplicate({ autoResubscribe: false, maxRetriesPerRequest: 1, enableAutoPipelining: false }) : null;
    if (!this.sub) return;
    const sub = this.sub;
    // The shared connection's handler already reports an outage: no second line for this one.
    sub.on('error', () => undefined);
    sub.on('ready', () => void this.track(sub, ++this.connection));
    for (const down of ['close', 'reconnecting', 'end'])
      sub.on(down, () => {
        this.connection++;
        this.setSubscribed(false);
      });
    sub.on('messageBuffer', (channel: Buffer, message: unknown) => {
      if (channel.toString() === INVALIDATE) this.invalidate(message);
    });
  }

  /** Whether the counter `key` is known to be under the limit. */
  has(key: string): boolean {
    return this.subscribed && this.known.has(key);
  }

  /** Redis is about to be asked about `key`: pass what comes back to `answered`. */
  ask(key: string): Ask {
    const ask: Ask = { key, stale: !this.subscribed };
    let pending = this.asking.get(key);
    if (!pending) this.asking.set(key, (pending = new Set()));
    pending.add(ask);
    return ask;
  }

  /** The answer to `ask` (`underLimit` false: at the limit, or no answer): kept if it is under the limit and still fresh. */
  answered(ask: Ask, underLimit: boolean): void {
    const pending = this.asking.get(ask.key);
    pending?.delete(ask);
    if (pending && !pending.size) this.asking.delete(ask.key);
    if (!underLimit || ask.stale || !this.subscribed) return;
    if (this.known.size >= MAX_ENTRIES) this.known.clear();
    this.known.add(ask.key);
  }

  /** This process is about to change `key` (and will again once it has): whatever was known or asked of it goes. */
  forget(key: string): void {
    this.known.delete(key);
    for (const ask of this.asking.get(key) ?? []) ask.stale = true;
  }

  /** Whether answers are being remembered (the invalidation connection is subscribed). */
  get active(): boolean {
    return this.subscribed;
  }

  /** The invalidation connection's id on the server while it is subscribed (for tests that cut it). */
  get connectionId(): number | null {
    return this.subscribed ? this.subscriberId : null;
  }

  async close(): Promise<void> {
    this.setSubscribed(false);
    if (this.sub) await this.sub.quit().catch(() => this.sub!.disconnect());
  }

  /**
   * Turns tracking on for connection number `connection` and subscribes. Tracking belongs to the server
   * connection that asked for it, so a set-up whose connection dropped meanwhile (ioredis may send its
   * last commands again on the next one) must not mark the cache usable: only the set-up of the
   * connection still up does.
   */
  private async track(sub: Redis, connection: number): Promise<void> {
    try {
      const id = Number(await sub.client('ID'));
      await sub.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', 'PREFIX', this.prefix);
      await sub.subscribe(INVALIDATE);
      if (connection !== this.connection) return;
      this.subscriberId = id;
      this.setSubscribed(true);
    } catch (e) {
      if (connection !== this.connection) return;
      this.setSubscribed(false);
      this.logger.log(`no in-process cache of counters under the limit (${(e as Error).message}): every request asks Redis`);
    }
  }

  private setSubscribed(on: boolean): void {
    if (this.subscribed === on) return;
    this.subscribed = on;
    this.forgetAll();
  }

  private forgetAll(): void {
    this.known.clear();
    for (const pending of this.asking.values()) for (const ask of pending) ask.stale = true;
  }

  /** One message: the keys that changed (an array), or nothing (a flush of the database): then all of them. */
  private invalidate(message: unknown): void {
    if (Array.isArray(message)) for (const k of message) this.forget(Buffer.isBuffer(k) ? k.toString() : String(k));
    else if (Buffer.isBuffer(message)) this.forget(message.toString());
    else this.forgetAll();
  }
}

/** A question to Redis about one counter; stale once its answer may be older than what Redis holds. */
export interface Ask {
  readonly key: string;
  stale: boolean;
}
