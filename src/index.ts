export type { Handler } from './handler.ts';
export { ConfigError, HttpError } from './http/errors.ts';
export { Request } from './http/request.ts';
export { Response } from './http/response.ts';
export { DEFAULTS, type ServerOptions } from './options.ts';
export { Server, type ServerMode, serve } from './server.ts';
export { channel, isPrimary, sharedMemory } from './shared.ts';
