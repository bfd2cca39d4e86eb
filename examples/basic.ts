// The smallest Peregrine server: `Hello, World!` as text/plain.
import { serve } from '../src/index.ts';

await serve(
  {
    handleRequest(_req, res) {
      res.setHeader('Content-Type', 'text/plain');
      res.end('Hello, World!');
    },
  },
  {
    port: Number(process.env.PORT ?? 3000),
    workers: process.env.WORKERS === undefined ? undefined : Number(process.env.WORKERS),
  },
);
