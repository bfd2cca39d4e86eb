/**
 * Pub/sub: sockets subscribe to topics; a message published to a topic reaches every subscriber in
 * every worker, and with `pubsub.redis` in every instance. Each worker keeps its own subscribers; a
 * relay that the worker layer provides (`useTopicRelay`) carries each publication to the other
 * workers of this instance, and a remote relay (`useRemoteRelay`) to other instances.
 */

import { Publication } from './publication.ts';

/** What a subscriber must be able to do. */
export interface Subscriber {
  /** Takes the publication, or returns false (closing, or too slow to keep up). */
  deliver(publication: Publication): boolean;
}

/** @internal How publications reach the other workers of this instance: provided by the worker layer. */
export interface TopicRelay {
  /** Starts listening: publications made in other workers go to `deliver` from now on. */
  connect(
    deliver: (topic: string, message: string | Uint8Array, isBinary: boolean, compress: boolean) => void,
  ): void;
  /** Sends a publication made here to the other workers. */
  post(topic: string, message: Uint8Array, isBinary: boolean, compress: boolean): void;
}

/**
 * @internal How publications reach other instances (Redis): told which topics this worker has
 * subscribers for, so that it listens to those alone, and given what is published here.
 */
export interface RemoteRelay {
  /** The first socket of this worker subscribed to `topic`. */
  listen(topic: string): void;
  /** The last socket of this worker left `topic`. */
  ignore(topic: string): void;
  post(topic: string, message: Uint8Array, isBinary: boolean, compress: boolean): void;
}

const topics = new Map<string, Set<Subscriber>>();
let relay: TopicRelay | null = null;
let connected = false;
let remote: RemoteRelay | null = null;

/** @internal Sets how publications travel between workers; without one they stay in this worker. */
export function useTopicRelay(to: TopicRelay): void {
  relay = to;
  connected = false;
}

/**
 * @internal Sets (or, with null, removes) how publications travel to other instances. The topics
 * this worker already has subscribers for are listened to at once.
 */
export function useRemoteRelay(to: RemoteRelay | null): void {
  remote = to;
  if (to !== null) for (const topic of topics.keys()) to.listen(topic);
}

/** Listens to other workers' publications, from the first subscription or publication on. */
function connectRelay(): TopicRelay | null {
  if (relay !== null && !connected) {
    connected = true;
    relay.connect(deliverFromElsewhere);
  }
  return relay;
}

/** @internal A publication made in another worker or instance: for this worker's subscribers. */
export function deliverFromElsewhere(
  topic: string,
  message: string | Uint8Array,
  isBinary: boolean,
  compress: boolean,
): number {
  const set = topics.get(topic);
  if (set === undefined) return 0;
  const payload = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  return deliverTo(set, new Publication(payload, isBinary, compress), null);
}

export function subscribe(topic: string, subscriber: Subscriber): void {
  let set = topics.get(topic);
  if (set === undefined) {
    set = new Set();
    topics.set(topic, set);
    remote?.listen(topic);
  }
  set.add(subscriber);
  connectRelay();
}

export function unsubscribe(topic: string, subscriber: Subscriber): void {
  const set = topics.get(topic);
  if (set === undefined) return;
  set.delete(subscriber);
  if (set.size === 0) {
    topics.delete(topic);
    remote?.ignore(topic);
  }
}

/** How many sockets of this worker subscribe to `topic`. */
export function subscriberCount(topic: string): number {
  return topics.get(topic)?.size ?? 0;
}

function deliverTo(set: Set<Subscriber>, publication: Publication, except: Subscriber | null): number {
  let taken = 0;
  for (const subscriber of set) {
    if (subscriber !== except && subscriber.deliver(publication)) taken++;
  }
  return taken;
}

/**
 * Sends `message` to every subscriber of `topic` in every worker and instance (except `except`, the
 * publishing socket, if given). Text unless `isBinary`. The frame is made once and shared by every
 * subscriber of this worker, and so is its compressed form (`compress`, default true, for sockets
 * that agreed permessage-deflate). Returns how many sockets of this worker took it: those of other
 * workers and instances are not known here.
 */
export function publish(
  topic: string,
  message: string | Uint8Array,
  isBinary = typeof message !== 'string',
  except: Subscriber | null = null,
  compress = true,
): number {
  const payload = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  const set = topics.get(topic);
  const taken = set === undefined ? 0 : deliverTo(set, new Publication(payload, isBinary, compress), except);
  connectRelay()?.post(topic, payload, isBinary, compress);
  remote?.post(topic, payload, isBinary, compress);
  return taken;
}
