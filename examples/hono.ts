// A small REST API written with Hono — routes with params, JSON bodies, validation errors, CORS —
// run by Peregrine in fetch mode: `app.fetch` is all Peregrine needs. `npm run example -- hono`.
//
// The to-do list lives in this process's memory, so the example runs one worker unless WORKERS says
// otherwise; an API that keeps its state in a database serves it from every core unchanged.
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { serve } from '../src/index.ts';

interface Todo {
  id: number;
  title: string;
  done: boolean;
}

const todos = new Map<number, Todo>();
let nextId = 1;

/** The problems with a to-do sent by a client, or none. */
function problems(body: unknown, partial: boolean): string[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return ['the body must be a JSON object'];
  const { title, done } = body as Record<string, unknown>;
  const found: string[] = [];
  if (!(partial && title === undefined) && (typeof title !== 'string' || title.trim() === ''))
    found.push('title must be a non-empty string');
  if (done !== undefined && typeof done !== 'boolean') found.push('done must be true or false');
  return found;
}

const app = new Hono();
app.use('*', cors({ origin: '*', allowMethods: ['GET', 'POST', 'PATCH', 'DELETE'] }));

app.get('/todos', (c) => c.json([...todos.values()]));

app.get('/todos/:id', (c) => {
  const todo = todos.get(Number(c.req.param('id')));
  return todo === undefined ? c.json({ error: 'no such to-do' }, 404) : c.json(todo);
});

app.post('/todos', async (c) => {
  const body = await c.req.json().catch(() => undefined);
  const errors = problems(body, false);
  if (errors.length > 0) return c.json({ errors }, 400);
  const { title, done } = body as { title: string; done?: boolean };
  const todo = { id: nextId++, title: title.trim(), done: done ?? false };
  todos.set(todo.id, todo);
  return c.json(todo, 201, { Location: `/todos/${todo.id}` });
});

app.patch('/todos/:id', async (c) => {
  const todo = todos.get(Number(c.req.param('id')));
  if (todo === undefined) return c.json({ error: 'no such to-do' }, 404);
  const body = await c.req.json().catch(() => undefined);
  const errors = problems(body, true);
  if (errors.length > 0) return c.json({ errors }, 400);
  const { title, done } = body as { title?: string; done?: boolean };
  if (title !== undefined) todo.title = title.trim();
  if (done !== undefined) todo.done = done;
  return c.json(todo);
});

app.delete('/todos/:id', (c) =>
  todos.delete(Number(c.req.param('id'))) ? c.body(null, 204) : c.json({ error: 'no such to-do' }, 404),
);

app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
app.onError((error, c) => {
  console.error(error);
  return c.json({ error: 'internal error' }, 500);
});

await serve({
  fetch: app.fetch,
  port: Number(process.env.PORT ?? 3000),
  workers: Number(process.env.WORKERS ?? 1),
});
