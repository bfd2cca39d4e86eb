import { type Channel, channel } from './shared.ts';
import type { TopicRelay } from './ws/topics.ts';

/** One publication as it travels between workers. */
interface Publication {
  topic: string;
  message: string | Uint8Array;
  isBinary: boolean;
  compress: boolean;
}

/**
 * Pub/sub between the workers of one server: publications travel on one channel, which reaches every
 * worker in threads and cluster mode alike (see channel()). Opened on first use.
 */
export function channelRelay(): TopicRelay {
  let bus: Channel | null = null;
  const open = () => {
    bus ??= channel('peregrine:pubsub');
    return bus;
  };
  return {
    connect(deliver) {
      open().onmessage = (event) => {
        const { topic, message, isBinary, compress } = event.data as Publication;
        deliver(topic, message, isBinary, compress);
      };
    },
    post(topic, message, isBinary, compress) {
      const publication: Publication = { topic, message, isBinary, compress };
      open().postMessage(publication);
    },
  };
}
