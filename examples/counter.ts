// The original's example: counts the requests it has served and answers with the count.
import { type Request, type Response, serve } from '../src/index.ts';

class Counter {
  private count = 0;

  handleRequest(_req: Request, res: Response): void {
    this.count++;
    res.setHeader('Content-Type', 'text/plain');
    res.end(`${this.count}\n`);
  }
}

const server = await serve(new Counter(), {
  port: Number(process.env.PORT ?? 3000),
  workers: process.env.WORKERS === undefined ? undefined : Number(process.env.WORKERS),
});
console.log(`counter: listening on http://localhost:${server.port}`);
