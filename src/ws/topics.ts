import { type Channel, channel } from '../shared.ts';

/**
 * Pub/sub: sockets subscribe to topics; a message published to a topic reaches every subscriber in
 * every worker. Each worker keeps its own subscribers; publishing also posts the message on a channel
 * so the other workers deliver it to theirs.
 */

/** What a subscriber must be able to do. */
export interface Subscriber {
  deliver(message: string | Uint8Array, isBinary: boolean): void;
}

const topics = new Map<string, Set<Subscriber>>();
let bus: Channel | null = null;

interface Publication {
  topic: string;
  message: string | Uint8Array;
  isBinary: boolean;
}

function connectBus(): Channel {
  if (bus === null) {
    bus = channel('peregrine:pubsub');
    bus.onmessage = (event) => {
      const { topic, message, isBinary } = event.data as Publication;
      deliverLocally(topic, message, isBinary, null);
    };
  }
  return bus;
}

export function subscribe(topic: string, subscriber: Subscriber): void {
  let set = topics.get(topic);
  if (set === undefined) {
    set = new Set();
    topics.set(topic, set);
  }
  set.add(subscriber);
  connectBus();
}

export function unsubscribe(topic: string, subscriber: Subscriber): void {
  const set = topics.get(topic);
  if (set === undefined) return;
  set.delete(subscriber);
  if (set.size === 0) topics.delete(topic);
}

/** How many sockets of this worker subscribe to `topic`. */
export function subscriberCount(topic: string): number {
  return topics.get(topic)?.size ?? 0;
}

function deliverLocally(
  topic: string,
  message: string | Uint8Array,
  isBinary: boolean,
  except: Subscriber | null,
): void {
  const set = topics.get(topic);
  if (set === undefined) return;
  for (const subscriber of set) if (subscriber !== except) subscriber.deliver(message, isBinary);
}

/**
 * Sends `message` to every subscriber of `topic` in every worker (except `except`, the publishing
 * socket, if given). Text unless `isBinary`.
 */
export function publish(
  topic: string,
  message: string | Uint8Array,
  isBinary = typeof message !== 'string',
  except: Subscriber | null = null,
): void {
  // Encode once for every subscriber, not once each.
  const payload = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  deliverLocally(topic, payload, isBinary, except);
  const publication: Publication = { topic, message: payload, isBinary };
  connectBus().postMessage(publication);
}
