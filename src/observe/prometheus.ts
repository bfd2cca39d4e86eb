import type { ServerMetrics } from './metrics.ts';

/**
 * The Prometheus text exposition format (version 0.0.4) of a server's metrics: a HELP and a TYPE line
 * per family, units in the names, `_total` on counters, label values escaped. Names follow
 * OpenTelemetry's HTTP semantic conventions where they have one (`http_server_request_duration_seconds`,
 * `http_server_active_requests`, `http_request_method`), else they start with `peregrine_`.
 */

/** The Content-Type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A label value as the format wants it: backslash, double quote and line feed escaped. */
export function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

function number(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

type Labels = Record<string, string | number>;

class Writer {
  text = '';

  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    this.text += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  }

  sample(name: string, value: number, labels?: Labels): void {
    let line = name;
    if (labels !== undefined) {
      const parts: string[] = [];
      for (const [key, v] of Object.entries(labels)) parts.push(`${key}="${escapeLabel(String(v))}"`);
      line += `{${parts.join(',')}}`;
    }
    this.text += `${line} ${number(value)}\n`;
  }

  /** A family with one unlabelled sample. */
  single(name: string, type: 'counter' | 'gauge', help: string, value: number): void {
    this.family(name, type, help);
    this.sample(name, value);
  }
}

export function renderPrometheus(m: ServerMetrics): string {
  const w = new Writer();
  w.single('peregrine_workers', 'gauge', 'Workers the server runs.', m.workers);
  w.single(
    'peregrine_scrape_workers_missing',
    'gauge',
    'Workers that did not answer this scrape in time (their last counters are used, their gauges left out).',
    m.workersMissing,
  );
  w.single('peregrine_worker_restarts_total', 'counter', 'Workers restarted after dying.', m.workerRestarts);

  w.family('http_server_requests_total', 'counter', 'HTTP responses, by request method and status class.');
  for (const r of m.requests)
    w.sample('http_server_requests_total', r.count, {
      http_request_method: r.method,
      http_response_status_class: r.statusClass,
    });

  const duration = 'http_server_request_duration_seconds';
  w.family(
    duration,
    'histogram',
    'Duration of HTTP server requests, from dispatch to the end of the response.',
  );
  const bounds = m.requestDuration.boundaries;
  for (const s of m.requestDuration.series) {
    const labels = { http_request_method: s.method, http_response_status_class: s.statusClass };
    for (let b = 0; b < s.buckets.length; b++) {
      const le = b < bounds.length ? String(bounds[b]) : '+Inf';
      w.sample(`${duration}_bucket`, s.buckets[b]!, { ...labels, le });
    }
    w.sample(`${duration}_sum`, s.sum, labels);
    w.sample(`${duration}_count`, s.count, labels);
  }

  w.single(
    'http_server_active_requests',
    'gauge',
    'Requests whose response has not ended.',
    m.activeRequests,
  );
  w.single('peregrine_open_connections', 'gauge', 'Open client connections.', m.openConnections);
  w.single('peregrine_connections_total', 'counter', 'Client connections accepted.', m.connectionsTotal);
  w.single(
    'peregrine_connections_evicted_total',
    'counter',
    'Idle connections closed to make room for new ones (maxConnections or the open-file limit).',
    m.connectionsEvicted,
  );
  w.single(
    'peregrine_connections_refused_total',
    'counter',
    'Connections refused at maxConnections or the open-file limit, with no idle one to close.',
    m.connectionsRefused,
  );
  w.single(
    'peregrine_received_bytes_total',
    'counter',
    'Bytes read from client connections.',
    m.receivedBytes,
  );
  w.single('peregrine_sent_bytes_total', 'counter', 'Bytes written to client connections.', m.sentBytes);

  w.family(
    'peregrine_parse_errors_total',
    'counter',
    'Requests refused before the handler (malformed, too large, too slow), by the status answered.',
  );
  for (const e of m.parseErrors) w.sample('peregrine_parse_errors_total', e.count, { status: e.status });

  w.family('peregrine_timeouts_total', 'counter', 'Deadlines that ran out, by kind.');
  for (const [kind, count] of Object.entries(m.timeouts))
    w.sample('peregrine_timeouts_total', count, { kind });

  const ws = m.webSockets;
  w.single('peregrine_websocket_open', 'gauge', 'Open WebSocket connections.', ws.open);
  w.single('peregrine_websocket_opened_total', 'counter', 'WebSocket connections opened.', ws.opened);
  w.single('peregrine_websocket_closed_total', 'counter', 'WebSocket connections closed.', ws.closed);
  w.single(
    'peregrine_websocket_messages_received_total',
    'counter',
    'WebSocket messages received.',
    ws.messagesReceived,
  );
  w.single('peregrine_websocket_messages_sent_total', 'counter', 'WebSocket messages sent.', ws.messagesSent);
  w.single(
    'peregrine_websocket_sends_dropped_total',
    'counter',
    'WebSocket sends dropped (socket closing, or past wsMaxBufferedBytes).',
    ws.sendsDropped,
  );
  const ps = m.pubsub;
  w.single(
    'peregrine_pubsub_redis_connected_workers',
    'gauge',
    'Workers whose pub/sub is connected to Redis (pubsub.redis).',
    ps.connectedWorkers,
  );
  w.single(
    'peregrine_pubsub_redis_sent_total',
    'counter',
    'Publications sent to Redis for other instances.',
    ps.sent,
  );
  w.single(
    'peregrine_pubsub_redis_received_total',
    'counter',
    "Publications received from other instances through Redis for this server's subscribers.",
    ps.received,
  );
  w.single(
    'peregrine_pubsub_redis_lost_total',
    'counter',
    'Publications other instances missed: not sent to Redis, which was unreachable or not keeping up.',
    ps.lost,
  );
  w.single(
    'peregrine_pubsub_redis_reconnects_total',
    'counter',
    'Connections to Redis made again after one was lost.',
    ps.reconnects,
  );
  w.single(
    'peregrine_access_log_dropped_lines_total',
    'counter',
    'Access log lines dropped because the output did not keep up.',
    m.accessLogDroppedLines,
  );

  w.family(
    'peregrine_event_loop_delay_seconds',
    'gauge',
    "Event-loop delay of each worker since the previous scrape (node:perf_hooks' monitorEventLoopDelay).",
  );
  for (const v of m.perWorker) {
    const d = v.eventLoopDelay;
    for (const stat of ['min', 'mean', 'p50', 'p90', 'p99', 'max'] as const)
      w.sample('peregrine_event_loop_delay_seconds', d[stat], { worker: v.worker, stat });
  }
  w.family('peregrine_worker_heap_used_bytes', 'gauge', "V8 heap in use in each worker's isolate.");
  for (const v of m.perWorker)
    w.sample('peregrine_worker_heap_used_bytes', v.heapUsedBytes, { worker: v.worker });
  w.family('peregrine_worker_open_connections', 'gauge', 'Open client connections of each worker.');
  for (const v of m.perWorker)
    w.sample('peregrine_worker_open_connections', v.openConnections, { worker: v.worker });

  const p = m.process;
  w.single(
    'process_cpu_seconds_total',
    'counter',
    'User and system CPU time of the answering process.',
    p.cpuSecondsTotal,
  );
  w.single(
    'process_resident_memory_bytes',
    'gauge',
    'Resident memory of the answering process.',
    p.residentMemoryBytes,
  );
  w.single(
    'process_start_time_seconds',
    'gauge',
    'Start time of the process since the Unix epoch.',
    p.startTimeSeconds,
  );
  return w.text;
}
