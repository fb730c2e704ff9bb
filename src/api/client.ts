// PpoppoClient: the typed client of the Ppoppo Messaging External API (gRPC, package chat.external).
//
// Every unary call carries a deadline (config.deadlineMs, default 10 s; per call `deadlineMs`) and
// `authorization: Bearer <token>` from the TokenSource. UNAUTHENTICATED drops the token and retries
// once with a fresh one (the server refused, so nothing was accepted). Reads (get/list/status/poll)
// also retry 'safe' and 'ambiguous' failures a couple of times with jittered backoff. Writes
// (CreateTemplate, CreateSendRequest) are never retried otherwise: CreateSendRequest has no
// idempotency key, so the caller decides from the error's `retry` class.
import * as grpc from '@grpc/grpc-js';
import { TokenSource } from './auth';
import { checkTokenUrl, DEFAULT_DEADLINE_MS, parseApiUrl } from './config';
import type { ApiEndpoint, ClientConfig } from './config';
import {
  componentToProto,
  pollConfigToProto,
  pollResultsFromProto,
  receiptFromProto,
  recipientStatusFromProto,
  recipientToProto,
  templateFromProto,
  totalsFromProto,
  usageFromProto,
} from './convert';
import type { PollResults } from './convert';
import { InvalidRecipientsError, InvalidTemplateError, PpoppoApiError, UnauthenticatedError, toPpoppoError } from './errors';
import {
  ExternalAppServiceService,
  ExternalMessageServiceService,
  ExternalTemplateServiceService,
} from './gen/ppoppo/external/v1/external';
import { EventStream } from './stream';
import type { StreamEventsOptions } from './stream';
import type { PollConfigSpec, RecipientInput, RecipientStatusInfo, SendReceipt, SendRequestTotals, TemplateComponentSpec, TemplateInfo, UsageStats } from './types';
import { MAX_RECIPIENTS_PER_REQUEST, MAX_REQUEST_BYTES, validateComponents, validateRecipients } from './validation';
import type { ValidationIssue } from './validation';
import { thousands } from '../text';

export interface PpoppoClientOptions {
  /** Share a token cache between clients (default: one built from the config). */
  tokens?: TokenSource;
  /** Extra grpc-js channel options (keepalive, message sizes, …). */
  channelOptions?: grpc.ChannelOptions;
  /** Retries of reads after 'safe'/'ambiguous' failures (default 2). */
  readRetries?: number;
  /** Where configuration warnings go (default console.warn). */
  onWarning?: (message: string) => void;
}

export interface CallOptions {
  /** Deadline of this call (each attempt) in milliseconds. */
  deadlineMs?: number;
  signal?: AbortSignal;
}

export interface CreateTemplateInput {
  name: string;
  description?: string;
  components: TemplateComponentSpec[];
}

export interface CreateSendRequestInput {
  templateId: string;
  recipients: RecipientInput[];
  pollConfig?: PollConfigSpec;
}

export interface TemplatePage {
  templates: TemplateInfo[];
  nextCursor?: string;
  hasMore: boolean;
}

export interface SendRequestStatusInfo {
  totals: SendRequestTotals;
  recipients: RecipientStatusInfo[];
}

/** Reads do not wait longer than this for a server's retry-after hint; they fail instead. */
const MAX_READ_RETRY_WAIT_MS = 5_000;
const LIST_PAGE_SIZE = 100;
const MAX_LIST_PAGES = 1_000;

/** Method definitions with serializers, as grpc-js needs them (the generated ones, path prefixed). */
interface Rpc<Req, Res> {
  path: string;
  requestSerialize(value: Req): Buffer;
  responseDeserialize(value: Buffer): Res;
}

type Prefixed<S> = { [K in keyof S]: Omit<S[K], 'path'> & { path: string } };

/** A copy of a generated service definition whose method paths start with `prefix` (e.g. '/ext'). */
export function withPathPrefix<S extends grpc.ServiceDefinition>(service: S, prefix: string): Prefixed<S> {
  const copy: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service)) copy[name] = { ...method, path: `${prefix}${method.path}` };
  return copy as Prefixed<S>;
}

export class PpoppoClient {
  readonly endpoint: ApiEndpoint;
  readonly tokens: TokenSource;
  readonly #deadlineMs: number;
  readonly #readRetries: number;
  readonly #rpc;
  readonly #messages: grpc.Client;
  readonly #templates: grpc.Client;
  readonly #app: grpc.Client;
  readonly #streams = new Set<EventStream>();

  constructor(config: ClientConfig, options: PpoppoClientOptions = {}) {
    this.endpoint = parseApiUrl(config.apiUrl);
    const warn = options.onWarning ?? ((message: string) => console.warn(`[ppoppo-client] ${message}`));
    for (const warning of [...this.endpoint.warnings, ...checkTokenUrl(config.tokenUrl)]) warn(warning);
    this.tokens = options.tokens ?? new TokenSource({ tokenUrl: config.tokenUrl, clientId: config.clientId, clientSecret: config.clientSecret });
    this.#deadlineMs = config.deadlineMs ?? DEFAULT_DEADLINE_MS;
    this.#readRetries = options.readRetries ?? 2;

    const prefix = this.endpoint.pathPrefix;
    this.#rpc = {
      messages: withPathPrefix(ExternalMessageServiceService, prefix),
      templates: withPathPrefix(ExternalTemplateServiceService, prefix),
      app: withPathPrefix(ExternalAppServiceService, prefix),
    };
    const credentials = this.endpoint.tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
    const channelOptions: grpc.ChannelOptions = { 'grpc.max_reconnect_backoff_ms': 10_000, ...options.channelOptions };
    const MessageClient = grpc.makeGenericClientConstructor(this.#rpc.messages as grpc.ServiceDefinition, 'ExternalMessageService');
    const TemplateClient = grpc.makeGenericClientConstructor(this.#rpc.templates as grpc.ServiceDefinition, 'ExternalTemplateService');
    const AppClient = grpc.makeGenericClientConstructor(this.#rpc.app as grpc.ServiceDefinition, 'ExternalAppService');
    this.#messages = new MessageClient(this.endpoint.target, credentials, channelOptions);
    // One HTTP/2 channel for all three services.
    const shared = { ...channelOptions, channelOverride: this.#messages.getChannel() as grpc.Channel };
    this.#templates = new TemplateClient(this.endpoint.target, credentials, shared);
    this.#app = new AppClient(this.endpoint.target, credentials, shared);
  }

  // ── Templates ──────────────────────────────────────────────────────────────────────────────

  /** Creates a template (checked locally first). ALREADY_EXISTS means the name is taken: see findTemplateByName. */
  async createTemplate(input: CreateTemplateInput, options: CallOptions = {}): Promise<TemplateInfo> {
    const issues: ValidationIssue[] = [];
    if (typeof input.name !== 'string' || input.name.trim() === '') issues.push({ field: 'name', message: 'a template needs a name' });
    issues.push(...validateComponents(input.components));
    if (issues.length > 0) throw new InvalidTemplateError('CreateTemplate', issues);
    const resp = await this.#call(this.#templates, this.#rpc.templates.createTemplate, {
      name: input.name,
      description: input.description,
      components: input.components.map(componentToProto),
    }, options);
    return templateFromProto(resp.template);
  }

  async getTemplate(id: string, options: CallOptions = {}): Promise<TemplateInfo> {
    const resp = await this.#read(this.#templates, this.#rpc.templates.getTemplate, { id }, options);
    return templateFromProto(resp.template);
  }

  async listTemplates(page: { limit?: number; cursor?: string } = {}, options: CallOptions = {}): Promise<TemplatePage> {
    const resp = await this.#read(this.#templates, this.#rpc.templates.listTemplates, { limit: page.limit, cursor: page.cursor }, options);
    const result: TemplatePage = { templates: resp.templates.map((template) => templateFromProto(template)), hasMore: resp.hasMore };
    if (resp.nextCursor) result.nextCursor = resp.nextCursor;
    return result;
  }

  /** The app's template with this exact name, paging through ListTemplates; undefined if none. */
  async findTemplateByName(name: string, options: CallOptions = {}): Promise<TemplateInfo | undefined> {
    const seenCursors = new Set<string>();
    let cursor: string | undefined;
    for (let pages = 0; pages < MAX_LIST_PAGES; pages++) {
      const page = await this.listTemplates({ limit: LIST_PAGE_SIZE, cursor }, options);
      const found = page.templates.find((template) => template.name === name);
      if (found) return found;
      if (!page.hasMore || !page.nextCursor || seenCursors.has(page.nextCursor)) return undefined;
      seenCursors.add(page.nextCursor);
      cursor = page.nextCursor;
    }
    return undefined;
  }

  // ── Sending ────────────────────────────────────────────────────────────────────────────────

  /**
   * One CreateSendRequest, called exactly once. Recipients are checked locally first (ppnum format,
   * vars are strings, 1..1000 after dropping repeated ppnums — first occurrence kept); problems throw
   * InvalidRecipientsError before any network call.
   */
  async createSendRequest(input: CreateSendRequestInput, options: CallOptions = {}): Promise<SendReceipt> {
    const method = 'CreateSendRequest';
    const checked = validateRecipients(input.recipients ?? []);
    const issues = [...checked.issues];
    if (typeof input.templateId !== 'string' || input.templateId === '') issues.unshift({ field: 'templateId', message: 'templateId is required' });
    if (checked.issues.length === 0 && checked.recipients.length === 0) issues.push({ field: 'recipients', message: 'a send request needs at least one recipient' });
    if (checked.recipients.length > MAX_RECIPIENTS_PER_REQUEST) {
      issues.push({ field: 'recipients', message: `a send request takes at most ${MAX_RECIPIENTS_PER_REQUEST} recipients, got ${checked.recipients.length}; split the list` });
    }
    if (issues.length > 0) throw new InvalidRecipientsError(method, issues);
    const request = { templateId: input.templateId, recipients: checked.recipients.map(recipientToProto), pollConfig: pollConfigToProto(input.pollConfig) };
    // The server refuses a message over its size limit whole: say so before sending it.
    const rpc = this.#rpc.messages.createSendRequest;
    const serialized = rpc.requestSerialize(request);
    const bytes = serialized.length;
    if (bytes > MAX_REQUEST_BYTES) {
      throw new InvalidRecipientsError(method, [
        { field: 'recipients', message: `the request takes ${thousands(bytes)} bytes; the API takes at most ${thousands(MAX_REQUEST_BYTES)} per message: send fewer recipients per request or shorter variables` },
      ]);
    }
    // Sent as measured: a thousand recipients are serialized once, not twice.
    const resp = await this.#call(this.#messages, { ...rpc, requestSerialize: () => serialized }, request, options);
    return receiptFromProto(resp);
  }

  async getSendRequestStatus(id: string, options: CallOptions = {}): Promise<SendRequestStatusInfo> {
    const resp = await this.#read(this.#messages, this.#rpc.messages.getSendRequestStatus, { id }, options);
    if (!resp.request) throw toPpoppoError(new Error('GetSendRequestStatus answered without a request summary'), 'GetSendRequestStatus');
    return { totals: totalsFromProto(resp.request), recipients: resp.recipients.map(recipientStatusFromProto) };
  }

  /** Poll results of a send request (its poll_id is the send request id). */
  async getPollResults(pollId: string, options: CallOptions = {}): Promise<PollResults> {
    const resp = await this.#read(this.#app, this.#rpc.app.getPollResults, { pollId }, options);
    return pollResultsFromProto(resp);
  }

  /** The app's rate limit, monthly quota and this month's use. */
  async getUsageStats(options: CallOptions = {}): Promise<UsageStats> {
    return usageFromProto(await this.#read(this.#app, this.#rpc.app.getUsageStats, {}, options));
  }

  // ── Events ─────────────────────────────────────────────────────────────────────────────────

  /** The event stream (app-wide, or one send request), resuming after `afterEventId`. */
  streamEvents(options: StreamEventsOptions = {}): EventStream {
    const rpc = this.#rpc.messages.streamSendRequestEvents;
    const stream: EventStream = new EventStream(
      {
        open: (request, token) => this.#messages.makeServerStreamRequest(rpc.path, rpc.requestSerialize, rpc.responseDeserialize, request, bearer(token), {}),
        getToken: () => this.tokens.getToken(),
        invalidateToken: (token) => this.tokens.invalidate(token),
      },
      options,
      () => this.#streams.delete(stream),
    );
    if (!stream.closed) this.#streams.add(stream);
    return stream;
  }

  /** Closes open event streams and the gRPC channel. */
  close(): void {
    for (const stream of [...this.#streams]) stream.close();
    this.#templates.close();
    this.#app.close();
    this.#messages.close();
  }

  // ── Plumbing ───────────────────────────────────────────────────────────────────────────────

  /** A read: retried on 'safe' and 'ambiguous' failures (a few times, jittered backoff). */
  async #read<Req, Res>(client: grpc.Client, rpc: Rpc<Req, Res>, request: Req, options: CallOptions): Promise<Res> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#call(client, rpc, request, options);
      } catch (err) {
        if (!(err instanceof PpoppoApiError) || err.retry === 'unsafe' || attempt >= this.#readRetries || options.signal?.aborted) throw err;
        const waitMs = err.retryAfterMs ?? jitter(200 * 2 ** attempt);
        if (waitMs > MAX_READ_RETRY_WAIT_MS) throw err;
        await new Promise((resolve) => setTimeout(resolve, waitMs));
      }
    }
  }

  /** One RPC with a token; on UNAUTHENTICATED, once more with a fresh token. */
  async #call<Req, Res>(client: grpc.Client, rpc: Rpc<Req, Res>, request: Req, options: CallOptions): Promise<Res> {
    const token = await this.tokens.getToken();
    try {
      return await this.#once(client, rpc, request, token, options);
    } catch (err) {
      if (!(err instanceof UnauthenticatedError)) throw err;
      this.tokens.invalidate(token);
      return this.#once(client, rpc, request, await this.tokens.getToken(), options);
    }
  }

  #once<Req, Res>(client: grpc.Client, rpc: Rpc<Req, Res>, request: Req, token: string, options: CallOptions): Promise<Res> {
    const method = rpc.path.slice(rpc.path.lastIndexOf('/') + 1);
    return new Promise((resolve, reject) => {
      let headers: grpc.Metadata | undefined;
      const deadline = Date.now() + (options.deadlineMs ?? this.#deadlineMs);
      const onAbort = () => call.cancel();
      const call = client.makeUnaryRequest(rpc.path, rpc.requestSerialize, rpc.responseDeserialize, request, bearer(token), { deadline }, (err, value) => {
        options.signal?.removeEventListener('abort', onAbort);
        if (err || value === undefined) reject(toPpoppoError(err ?? new Error('empty response'), method, headers));
        else resolve(value);
      });
      call.on('metadata', (metadata) => {
        headers = metadata;
      });
      if (options.signal?.aborted) call.cancel();
      else options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function bearer(token: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

function jitter(ms: number): number {
  return Math.round(ms / 2 + (Math.random() * ms) / 2);
}
