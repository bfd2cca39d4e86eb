// Describes exactly what was parsed, as JSON: used to check conformance from outside.
// {"method", "target", "version", "headers": [[name, value], …], "body": <base64>}
// A WebSocket upgrade on any path is accepted (permessage-deflate offered), and every message is
// sent back unchanged: text as text, binary as binary.
import { type Request, type Response, serve, type WebSocket } from '../src/index.ts';

const MAX_BODY = 16 * 1024 * 1024;

const handler = {
  async handleRequest(req: Request, res: Response): Promise<void> {
    if (req.header('upgrade') !== undefined) {
      res.upgrade();
      return;
    }
    const body = req.hasBody ? await req.bytes() : Buffer.alloc(0);
    res.json({
      method: req.method,
      target: req.target,
      version: req.version,
      headers: [...req.headers()],
      body: body.toString('base64'),
    });
  },
  handleWSMessage(ws: WebSocket, message: string | Buffer, isBinary: boolean): void {
    ws.send(message, isBinary);
  },
};

await serve(handler, {
  port: Number(process.env.PORT ?? 3000),
  workers: process.env.WORKERS === undefined ? undefined : Number(process.env.WORKERS),
  maxBodyBytes: MAX_BODY,
  wsMaxMessageBytes: MAX_BODY + 1024,
  wsPerMessageDeflate: true,
});
