/**
 * Pub/sub between instances through Redis: each worker listens, on its own connection, to the
 * channels of the topics its sockets subscribe to — one Redis subscription per topic and worker,
 * made when the first socket subscribes and dropped when the last one leaves — and publishes what
 * is published here. Delivery stays local first: a publication reaches this worker's subscribers
 * and the other workers' (over the channel between them) whether or not Redis is there.
 */

import { PUBSUB_REMOTE_LOST, PUBSUB_REMOTE_RECEIVED, PUBSUB_REMOTE_SENT } from '../observe/metrics.ts';
import type { RemoteRelay } from '../ws/topics.ts';
import { unwrap, wrap } from './envelope.ts';

/** What the relay needs of a Redis client (see RedisPubSubClient). */
export interface PubSubClient {
  subscribe(channel: string): void;
  unsubscribe(channel: string): void;
  /** Fire and forget; false when it could not be sent (Redis away, or not keeping up). */
  publish(channel: string, payload: Buffer): boolean;
}

export type DeliverHere = (topic: string, message: Uint8Array, isBinary: boolean, compress: boolean) => void;

export class RedisRelay implements RemoteRelay {
  private readonly client: PubSubClient;
  private readonly prefix: string;
  private readonly instanceId: Buffer;
  private readonly deliverHere: DeliverHere;
  /** The worker's counters, or null when metrics are off. */
  private readonly counts: Float64Array | null;

  constructor(
    client: PubSubClient,
    settings: { prefix: string; instanceId: Buffer },
    deliverHere: DeliverHere,
    counts: Float64Array | null,
  ) {
    this.client = client;
    this.prefix = settings.prefix;
    this.instanceId = settings.instanceId;
    this.deliverHere = deliverHere;
    this.counts = counts;
  }

  listen(topic: string): void {
    this.client.subscribe(this.prefix + topic);
  }

  ignore(topic: string): void {
    this.client.unsubscribe(this.prefix + topic);
  }

  post(topic: string, message: Uint8Array, isBinary: boolean, compress: boolean): void {
    const sent = this.client.publish(this.prefix + topic, wrap(this.instanceId, message, isBinary, compress));
    if (this.counts !== null) this.counts[sent ? PUBSUB_REMOTE_SENT : PUBSUB_REMOTE_LOST]!++;
  }

  /** A message on one of the channels listened to. */
  received(channel: string, data: Buffer): void {
    if (!channel.startsWith(this.prefix)) return;
    const { origin, message, isBinary, compress } = unwrap(data);
    // This instance's own publication reached its subscribers already, without Redis.
    if (origin?.equals(this.instanceId)) return;
    if (this.counts !== null) this.counts[PUBSUB_REMOTE_RECEIVED]!++;
    this.deliverHere(channel.slice(this.prefix.length), message, isBinary, compress);
  }
}
