// Serves a directory (the first argument, default: this examples folder) at /, with index.html for
// directories, ETag/Last-Modified caching and safe path handling. Other methods get 405.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DirServer, type Request, type Response, serve } from '../src/index.ts';

const root = resolve(process.argv[2] ?? fileURLToPath(new URL('.', import.meta.url)));
const files = new DirServer(root, { cacheControl: 'public, max-age=60' });

await serve(
  {
    async handleRequest(req: Request, res: Response): Promise<void> {
      if (await files.serve(req, res)) return;
      res.status = 404;
      res.end('not found\n');
    },
  },
  {
    port: Number(process.env.PORT ?? 3000),
    workers: process.env.WORKERS === undefined ? undefined : Number(process.env.WORKERS),
  },
);
