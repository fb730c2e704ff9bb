// Public surface of the Ppoppo API layer. Workflow code must import only validation.ts and
// types.ts directly (this index pulls in gRPC).
export * from './types';
export * from './validation';
export * from './errors';
export { TokenSource, TokenEndpointError } from './auth';
export type { TokenSourceOptions } from './auth';
export { clientConfigFromEnv, makeClientConfig, parseApiUrl, checkTokenUrl, ConfigError, DEFAULT_API_URL, DEFAULT_TOKEN_URL, DEFAULT_DEADLINE_MS } from './config';
export type { ClientConfig, ApiEndpoint } from './config';
export { PpoppoClient, withPathPrefix } from './client';
export type { PpoppoClientOptions, CallOptions, CreateTemplateInput, CreateSendRequestInput, TemplatePage, SendRequestStatusInfo } from './client';
export { EventStream } from './stream';
export type { StreamEventsOptions, ReconnectInfo, EventStreamTransport } from './stream';
export type { PollResults } from './convert';
