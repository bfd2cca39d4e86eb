/**
 * The Hono app of the benchmark's Hono section, the same on every server: `GET /` is
 * `c.text('Hello, World!')`, `GET /json` is `c.json(JSON_MESSAGE)` (bodies.ts).
 */
import { Hono } from 'hono';
import { JSON_MESSAGE, SMALL_BODY } from './bodies.ts';

export const app = new Hono();
app.get('/', (c) => c.text(SMALL_BODY));
app.get('/json', (c) => c.json(JSON_MESSAGE));
