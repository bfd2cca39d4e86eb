import { PUBSUB_REMOTE_RECONNECTS } from '../observe/metrics.ts';
import { deliverFromElsewhere, useRemoteRelay } from '../ws/topics.ts';
import type { ResolvedPubSub } from './options.ts';
import { RedisError, RedisPubSubClient } from './redis-client.ts';
import { RedisRelay } from './redis-relay.ts';
import { addressText } from './redis-url.ts';

/**
 * One worker's link to the other instances (`pubsub.redis`): its own Redis client, and the relay
 * that topics.ts publishes through. Started before the worker listens, closed after it stops.
 */
export class RemotePubSub {
  private readonly settings: ResolvedPubSub;
  private readonly client: RedisPubSubClient;
  private readonly relay: RedisRelay;
  private readonly log: (message: string) => void;
  private readonly counts: Float64Array | null;
  private everConnected = false;

  constructor(
    settings: ResolvedPubSub,
    instanceId: Buffer,
    counts: Float64Array | null,
    log: (message: string) => void,
  ) {
    this.settings = settings;
    this.counts = counts;
    this.log = log;
    this.client = new RedisPubSubClient({
      url: settings.url,
      tls: settings.tls,
      onMessage: (channel, payload) => this.relay.received(channel, payload),
      onConnect: () => this.connected(),
      onDisconnect: (error) =>
        this.log(
          `peregrine: pub/sub lost its connection to Redis at ${this.where} (${error.message}); ` +
            'reconnecting, and until then publications reach this instance only',
        ),
    });
    this.relay = new RedisRelay(
      this.client,
      { prefix: settings.prefix, instanceId },
      (topic, message, isBinary, compress) => void deliverFromElsewhere(topic, message, isBinary, compress),
      counts,
    );
  }

  private get where(): string {
    return addressText(this.settings.address);
  }

  /** Whether Redis is reachable now. */
  get isConnected(): boolean {
    return this.client.stats.connected;
  }

  private connected(): void {
    if (this.everConnected) {
      if (this.counts !== null) this.counts[PUBSUB_REMOTE_RECONNECTS]!++;
      this.log(`peregrine: pub/sub reconnected to Redis at ${this.where}`);
    }
    this.everConnected = true;
  }

  /**
   * Connects. With `required`, a Redis that can't be reached fails the start with an error that
   * says where and why; otherwise the worker starts at once and the client keeps trying.
   */
  async start(): Promise<void> {
    if (this.settings.required) {
      try {
        await this.client.connect();
      } catch (error) {
        throw new RedisError(
          'ERR_PEREGRINE_REDIS_CONNECTION',
          `pubsub.redis: ${(error as Error).message} (with pubsub.required: false the server starts ` +
            'without it and keeps trying)',
          { cause: error },
        );
      }
      this.everConnected = true;
    } else {
      this.client.start();
      this.log(
        `peregrine: pub/sub is connecting to Redis at ${this.where} in the background; ` +
          'until it does, publications reach this instance only',
      );
    }
    useRemoteRelay(this.relay);
  }

  async close(): Promise<void> {
    useRemoteRelay(null);
    await this.client.close();
  }
}
