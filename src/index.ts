export {
  ConfigError,
  ListenError,
  type ListenErrorCode,
  PeregrineError,
  UsageError,
} from './errors.ts';
export type { BunServeOptions } from './fetch/bun-options.ts';
export type { FetchOptions } from './fetch/handler.ts';
export type { RouteHandler, RouteParams, RouteRequest, Routes, RouteValue } from './fetch/routes.ts';
export type {
  FetchUpgradeOptions,
  ServerWebSocket,
  WebSocketHandler,
  WebSocketPayload,
} from './fetch/websocket.ts';
export type { Handler, Request, Response } from './handler.ts';
export { HttpError } from './http/errors.ts';
export type {
  AccessEntry,
  AccessLogDestination,
  AccessLogFormat,
  LogStream,
} from './observe/access-log.ts';
export type { EventLoopDelay, ServerMetrics, TimeoutKind, WorkerMetricsView } from './observe/metrics.ts';
export { DEFAULTS, type ServerOptions, type WsDeflateOptions } from './options.ts';
export type { PubSubOptions } from './pubsub/options.ts';
export { RedisError } from './pubsub/redis-connection.ts';
export { Server, type ServerMode, serve } from './server.ts';
export { type Channel, channel, isPrimary, sharedMemory } from './shared.ts';
export { DirServer, type DirServerOptions } from './static/dir-server.ts';
export type { FileCache } from './static/file-cache.ts';
export { FileServer, type FileServerOptions } from './static/file-server.ts';
export { CLOSE, WsError } from './ws/errors.ts';
export type { SendResult, WebSocket, WebSocketHooks } from './ws/socket.ts';
export { publish, subscriberCount } from './ws/topics.ts';
export { offeredProtocols, type UpgradeOptions } from './ws/upgrade.ts';
