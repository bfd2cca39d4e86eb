// The paragraph above each section's tables: what it measures, how it is pinned and loaded, its targets.
import { type Config, WARMUP_SECONDS } from './config.ts';
import { formatBytes, plural } from './format.ts';
import { IDLE_SETTLE_MS } from './measure.ts';
import { NGINX } from './nginx.ts';
import { LOAD_CPU, MULTI_WORKER_CPUS, SERVER_CPU } from './processes.ts';
import {
  H2_CONNECTIONS,
  H2_STREAMS,
  IDLE,
  PUBSUB_LOCAL_SUBSCRIBERS,
  PUBSUB_REDIS_SUBSCRIBERS,
  PUBSUB_WINDOW,
  type Section,
  SMALL_FILE_BYTES,
  STATIC,
  WEBSOCKET,
} from './sections.ts';
import { UPLOAD_BYTES } from './servers/bodies.ts';

/** The intro of `section`; `uwsNote` says why uWebSockets.js was not run, if it was selected and could not be. */
export function sectionIntro(
  section: Section['id'],
  config: Config,
  uwsNote: string | undefined,
  pubSubNote?: string,
): string {
  switch (section) {
    case 'comparison':
      return comparisonIntro(uwsNote);
    case 'scaling':
      return scalingIntro();
    case 'websocket':
      return websocketIntro(config);
    case 'static':
      return staticIntro(config);
    case 'idle':
      return idleIntro();
    case 'fetch':
      return fetchIntro();
    case 'hono':
      return honoIntro();
    case 'https':
      return httpsIntro(config);
    case 'http2':
      return http2Intro();
    case 'compression':
      return compressionIntro(config);
    case 'observe':
      return observeIntro(config);
    case 'pubsub':
      return pubSubIntro(config.pubSubWindow ?? PUBSUB_WINDOW, uwsNote, pubSubNote);
  }
}

/** What the pubsub tables measure and how, printed above them (with why a peer or row is missing). */
function pubSubIntro(window: number, uwsNote: string | undefined, pubSubNote: string | undefined): string {
  const notes = [uwsNote, pubSubNote].flatMap((note) => (note === undefined ? [] : [` **${note}.**`]));
  return (
    `Pub/sub fan-out: one publisher, 32-byte text messages, subscribers over raw WebSockets ` +
    `(\`pubsub-load.ts\` on CPU ${LOAD_CPU}). Cross-instance: ${PUBSUB_REDIS_SUBSCRIBERS.toLocaleString('en-US')} ` +
    `subscribers spread over two instances relaying through one Redis (redis-server, no persistence), the ` +
    `publisher on the first: Peregrine (\`pubsub: { redis }\`, \`ws.publish()\`) against Socket.IO 4 with ` +
    `@socket.io/redis-adapter (room \`emit\`, websocket transport). Local: ` +
    `${PUBSUB_LOCAL_SUBSCRIBERS.toLocaleString('en-US')} subscribers on one instance: Peregrine against ` +
    `uWebSockets.js (\`app.publish()\`). Servers and Redis on CPU ${SERVER_CPU}. ${window} publications ` +
    `in flight, each complete when every subscriber has it; every subscriber must get every publication once, ` +
    `in order. msg/s counts deliveries (one message to one subscriber); CPU µs/msg is the instances' CPU per ` +
    `delivery; p50/p99 are publish-to-receive latencies over every delivery. Targets: ≥ 5× Socket.IO, ` +
    `≥ 1.0× uWebSockets.js.${notes.join('')}`
  );
}

/** What the observe table measures, printed above it. */
function observeIntro(config: Config): string {
  return (
    `Observing: what metrics and the access log cost. Peregrine with \`metrics: true\` against plain ` +
    `Peregrine and Peregrine with \`accessLog: true\` written to /dev/null (so the figure is making and ` +
    `writing the lines, not a terminal keeping up), one worker each on CPU ${SERVER_CPU}, wrk on CPU ` +
    `${LOAD_CPU}, ${plural(config.connections, 'connection')}, keep-alive \`GET /\`. Compare the CPU µs/req ` +
    `column: the ratio against plain Peregrine is what metrics cost per request (target ≤ 1.03×); the ` +
    `access log's cost is its row against plain Peregrine's. A difference of a few percent is within ` +
    `one run's noise on this machine: read the medians over several runs.`
  );
}

/** Who the comparison section's peers are, printed above its table. */
function comparisonIntro(uwsNote: string | undefined): string {
  const note = uwsNote === undefined ? '' : ` **${uwsNote}.**`;
  return (
    `Comparison: one server on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU}, every server answering the same ` +
    `routes with the same bytes: \`GET /\` (13 bytes) and \`GET /6150\` as \`text/plain\`, \`GET /json\` ` +
    `(an object serialized per request) and \`POST /upload\` (a ${formatBytes(UPLOAD_BYTES)} body read whole, ` +
    `answered with its length). The servers: Peregrine (one worker), node:http, ` +
    `Fastify, raw node:net (canned responses, no parsing: the ceiling for any Node server), nginx ` +
    `(one worker; \`return 200\` from its config, which for the upload reads and discards the body and ` +
    `answers the declared length; a file with open_file_cache for \`/6150\`) and ` +
    `uWebSockets.js (native; the \`@trufflesuite/uws-js-unofficial\` build, on Node 20). Ratios are ` +
    `Peregrine's req/s over the peer's, the median of run pairs (min–max in brackets). Targets: ≥ 2× ` +
    `node:http plain, ≥ 10× pipelined, ≥ 2× on the 6150-byte body, ≥ 0.9× raw node:net plain, with CPU ` +
    `µs/req and minor GCs ≤ 1.15× raw node:net's, ≥ 1.0× uWebSockets.js plain and pipelined.${note}`
  );
}

/** What the scaling table measures and how it is pinned, printed above it. */
function scalingIntro(): string {
  return (
    `Scaling: keep-alive \`GET /\` (13-byte body), Peregrine (worker threads) and node:cluster ` +
    `(processes running node:http) with 1 worker on CPU ${SERVER_CPU} and 2 workers on CPUs ` +
    `${MULTI_WORKER_CPUS}, wrk on CPU ${LOAD_CPU}. With 2 workers on a 2-core machine the load generator ` +
    `shares a core with one worker, so the scaling is bounded by the machine, not the server. CPU µs/req ` +
    `counts every thread and process of the server.`
  );
}

/** What the websocket table measures and how it is loaded, printed above it. */
function websocketIntro(config: Config): string {
  const plain = WEBSOCKET.workloads.filter((w) => w.kind === 'ws' && w.fragmentBytes === undefined);
  const windows = plain
    .flatMap((w) => (w.kind === 'ws' ? [`${w.window} for ${formatBytes(w.messageBytes)}`] : []))
    .join(', ');
  return (
    `WebSocket echo: binary messages sent back by Peregrine (\`res.upgrade()\`, \`ws.send()\`) and by the ` +
    `\`ws\` package's WebSocketServer, permessage-deflate off, server on CPU ${SERVER_CPU}; load from ` +
    `\`ws-load.ts\` on CPU ${LOAD_CPU}: ${plural(config.wsConnections, 'connection')}, each keeping a ` +
    `window of messages in flight (${windows}). msg/s counts echoed messages; CPU µs/msg is the server's ` +
    `CPU time per echoed message. The fragments row sends one 4 MiB text message at a time, as 65,536 ` +
    `masked 64-byte fragments, on one connection (both servers allow 8 MiB messages and any number of ` +
    `fragments), so its msg/s is the inverse of the time to assemble, check and echo one message.`
  );
}

/** What the fetch table measures, printed above it. */
function fetchIntro(): string {
  return (
    `Fetch mode: one worker on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU}. Peregrine fetch runs a Bun.serve-style ` +
    `\`fetch(request)\` (bench/servers/fetch-app.ts: \`new URL(request.url)\`, then \`new Response(body)\` or ` +
    `\`Response.json(…)\`); Peregrine is its own handler API on the same routes; Bun.serve is Bun 1.4 running ` +
    `the same fetch. Targets: ≥ 0.8× Peregrine's handler API, and the ratio to Bun.serve reported (goal ≥ 1.0×). ` +
    `Bun is not Node: it has no minor-GC count. Where the time goes: bench/README.md.`
  );
}

/** What the Hono table measures, printed above it. */
function honoIntro(): string {
  return (
    `Hono: one app (bench/servers/hono-app.ts: \`c.text()\` on \`/\`, \`c.json()\` on \`/json\`) on Peregrine ` +
    `(one worker), on @hono/node-server (set up as its README says, which replaces the global Request and ` +
    `Response with lighter classes) and on srvx, on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU}. Targets: ≥ 2× ` +
    `@hono/node-server, ≥ 1.5× srvx.`
  );
}

/** What the static table measures, printed above it (with the reason if nginx was not run). */
function staticIntro(config: Config): string {
  const connections = STATIC.workloads
    .flatMap((w) =>
      w.kind === 'http' ? [`${w.connections ?? config.connections} for ${w.path.slice(1)}`] : [],
    )
    .join(', ');
  const intro =
    `Static files: keep-alive \`GET\` of a ${SMALL_FILE_BYTES}-byte text file and a 1 MiB binary file ` +
    `written once per run to a temp directory, served by Peregrine's \`DirServer\`, by nginx ` +
    `(${NGINX}, one worker, master_process off, sendfile on, access_log off) and by the \`sirv\` package ` +
    `on node:http; every server on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU} (connections: ${connections}). ` +
    `Ratios are Peregrine's req/s over the other server's (median of run pairs). ` +
    `Targets: ≥ 0.9× nginx on 6150.txt, ≥ 3× sirv.`;
  return intro;
}

/** What the idle table measures, printed above it. */
function idleIntro(): string {
  const connections = IDLE.workloads[0]?.kind === 'idle' ? IDLE.workloads[0].connections : 0;
  return (
    `Idle keep-alive connections: the server's resident memory (VmRSS, every process of it) once it has ` +
    `answered one request, then with ${connections.toLocaleString('en-US')} connections from ` +
    `\`idle-load.ts\` open, each having sent one \`GET /\` and read its response, both after ` +
    `${IDLE_SETTLE_MS / 1000} s to settle. KB per connection is the difference over the count; the ratio is ` +
    `Peregrine's KB per connection over the server's (below 1: Peregrine uses less). Target: ≤ 1.15× raw node:net. ` +
    `The WebSocket row is Peregrine alone: ${connections.toLocaleString('en-US')} WebSockets (\`idle-load.ts ` +
    `--websocket\`: a handshake without extensions, then nothing), each subscribed by the server to one topic ` +
    `on open, measured the same way after one WebSocket opened and closed. Target: ≤ 2× Peregrine's idle ` +
    `HTTP connection.`
  );
}

/** What the https table measures, printed above it. */
function httpsIntro(config: Config): string {
  return (
    `HTTPS: one certificate for every server (self-signed ECDSA P-256, made with openssl for this run), ` +
    `TLS 1.3 negotiated with wrk (TLS_AES_256_GCM_SHA384, X25519 for all four); Peregrine (the \`tls\` ` +
    `option, one worker), node:https (\`https.createServer\`, defaults), raw node:tls (canned responses ` +
    `over \`tls.createServer\`, no HTTP: the ceiling of Node's TLS layer) and nginx (${NGINX}, one worker, ` +
    `\`listen … ssl\`, \`ssl_protocols TLSv1.2 TLSv1.3\`), each on CPU ${SERVER_CPU}, wrk on CPU ` +
    `${LOAD_CPU}, ${plural(config.connections, 'connection')}. \`https GET /\`: keep-alive, 13-byte body. ` +
    `\`https handshakes\`: \`Connection: close\`, so every request is a new connection and its req/s are ` +
    `handshakes/s; wrk is kept from resuming sessions (each is a full handshake with the certificate's ` +
    `signature), and each run checks that the machine accepted a TCP connection per request. wrk's own ` +
    `handshake work (an ECDHE and a signature check per connection) can make it the limit: see its CPU in ` +
    `the progress lines. Targets: keep-alive ≥ 2× node:https, ≥ 0.9× raw node:tls and ≥ 0.9× nginx, handshakes ≥ 1.0× node:https.`
  );
}

/** What the http2 table measures, printed above it. */
function http2Intro(): string {
  return (
    `HTTP/2: \`GET /\` (13-byte body) over TLS with ALPN h2, the https section's certificate; Peregrine ` +
    `(the \`tls\` option, HTTP/2 on by default, one worker), node:http2 (\`http2.createSecureServer\` with ` +
    `the compatibility API's \`(req, res) => …\`, defaults), raw node:http2 (the same server's core API, ` +
    `\`stream.respond()\` and \`stream.end()\` for every stream: the ceiling of node:http2) and nginx ` +
    `(${NGINX}, one worker, ` +
    `\`listen … ssl http2\`), each on CPU ${SERVER_CPU}; load from h2load on CPU ${LOAD_CPU}: ` +
    `${H2_CONNECTIONS} connections × ${H2_STREAMS} concurrent streams, after ${WARMUP_SECONDS} s of ` +
    `warm-up (\`--warm-up-time\`) not counted. CPU µs/req, minor GCs and h2load's CPU share are read over ` +
    `h2load's measured window only; h2load gives no latency percentiles. A run with any failed, errored ` +
    `or timed-out request, or a status other than 2xx, fails. Targets: ≥ 2× node:http2, ≥ 0.9× raw node:http2; nginx reported.`
  );
}

/** What the compression table measures, printed above it. */
function compressionIntro(config: Config): string {
  return (
    `Compression: keep-alive \`GET\` with \`Accept-Encoding: gzip\` of the static section's ` +
    `${SMALL_FILE_BYTES}-byte text file (from memory), gzipped at level 1 on every response by Peregrine ` +
    `(\`compression: { encodings: ['gzip'], level: 1 }\`, one worker) and by Fastify with ` +
    `@fastify/compress (\`encodings: ['gzip']\`, \`zlibOptions: { level: 1 }\`, its defaults otherwise), ` +
    `each on CPU ${SERVER_CPU}, wrk on CPU ${LOAD_CPU}, ${plural(config.connections, 'connection')}. ` +
    `Each run's checked request must come back with \`Content-Encoding: gzip\` and a body that gunzips ` +
    `to the file, and a run in which wrk read as many bytes per response as the file has fails. ` +
    `Target: ≥ 1.5× Fastify.`
  );
}
