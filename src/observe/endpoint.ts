import type { Request, RequestHandler, Response } from '../http/exchange.ts';
import type { ServerMetrics } from './metrics.ts';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from './prometheus.ts';

/**
 * The metrics path, answered by the server itself before the handler (native or fetch mode, on
 * HTTP/1 and HTTP/2); every other request goes on to the handler. The path is compared byte by
 * byte, so requests elsewhere pay no string for it.
 */
export class MetricsEndpoint implements RequestHandler {
  private readonly inner: RequestHandler;
  private readonly path: string;
  private readonly collect: () => Promise<ServerMetrics>;

  constructor(inner: RequestHandler, path: string, collect: () => Promise<ServerMetrics>) {
    this.inner = inner;
    this.path = path;
    this.collect = collect;
  }

  handleRequest(req: Request, res: Response<unknown, never>): unknown {
    if (!req.pathIs(this.path)) return this.inner.handleRequest(req, res);
    return this.answer(req, res);
  }

  private async answer(req: Request, res: Response<unknown, never>): Promise<void> {
    res.setHeader('Cache-Control', 'no-store');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.status = 405;
      res.setHeader('Allow', 'GET, HEAD');
      res.end();
      return;
    }
    let metrics: ServerMetrics;
    try {
      metrics = await this.collect();
    } catch (error) {
      res.status = 503;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(`metrics unavailable: ${(error as Error).message}\n`);
      return;
    }
    res.setHeader('Content-Type', PROMETHEUS_CONTENT_TYPE);
    res.end(renderPrometheus(metrics));
  }
}
