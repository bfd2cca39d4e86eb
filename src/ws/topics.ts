/**
 * Pub/sub: sockets subscribe to topics; a message published to a topic reaches every subscriber in
 * every worker. Each worker keeps its own subscribers; a relay that the worker layer provides
 * (`useTopicRelay`) carries each publication to the other workers, which deliver it to theirs.
 */

/** What a subscriber must be able to do. */
export interface Subscriber {
  deliver(message: string | Uint8Array, isBinary: boolean): void;
}

/** @internal How publications reach the other workers: provided by the worker layer. */
export interface TopicRelay {
  /** Starts listening: publications made in other workers go to `deliver` from now on. */
  connect(deliver: (topic: string, message: string | Uint8Array, isBinary: boolean) => void): void;
  /** Sends a publication made here to the other workers. */
  post(topic: string, message: string | Uint8Array, isBinary: boolean): void;
}

const topics = new Map<string, Set<Subscriber>>();
let relay: TopicRelay | null = null;
let connected = false;

/** @internal Sets how publications travel between workers; without one they stay in this worker. */
export function useTopicRelay(to: TopicRelay): void {
  relay = to;
  connected = false;
}

/** Listens to other workers' publications, from the first subscription or publication on. */
function connectRelay(): TopicRelay | null {
  if (relay !== null && !connected) {
    connected = true;
    relay.connect((topic, message, isBinary) => deliverLocally(topic, message, isBinary, null));
  }
  return relay;
}

export function subscribe(topic: string, subscriber: Subscriber): void {
  let set = topics.get(topic);
  if (set === undefined) {
    set = new Set();
    topics.set(topic, set);
  }
  set.add(subscriber);
  connectRelay();
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
  connectRelay()?.post(topic, payload, isBinary);
}
