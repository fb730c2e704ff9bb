// Email fallback over SMTP (nodemailer). The address comes from the recipient's vars
// (settings.addressColumn); the Message-ID is deterministic, `<campaignId:ppnum@ppoppo-campaigns>`,
// so receivers can drop a duplicate sent by a retry. The SMTP host must be allowed by
// FALLBACK_ALLOWED_HOSTS (outbound.ts): it is resolved and checked once, and the connection goes
// to the checked address, with TLS verified against the host name.
import { isIP } from 'node:net';
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { renderTemplate } from '../../src/api/validation';
import { DEFAULT_SMTP_PASSWORD_ENV } from '../../src/campaign/fallback-settings';
import type { EmailChannelSettings } from '../../src/campaign/fallback-settings';
import { FallbackDeliveryError, type FallbackChannel, type FallbackMessage } from './channel';
import { OutboundRefusedError, checkDestination, outboundPolicyFromEnv, resolveDestination } from '../outbound';
import type { OutboundPolicy } from '../outbound';
import { withRetries, type BackoffOptions, type TryResult } from './retry';

type SmtpTransport = Transporter<SMTPTransport.SentMessageInfo>;

export interface EmailChannelOptions {
  env?: Record<string, string | undefined>;
  /** Where it may connect; default from FALLBACK_ALLOWED_HOSTS in `env`. */
  policy?: OutboundPolicy;
  backoff?: BackoffOptions;
  /** SMTP connections kept open at once (match the batch concurrency). Default 4. */
  maxConnections?: number;
}

/** Throws (a configuration fault, not a recipient's) when the password is missing or the host is not allowed. */
export function createEmailChannel(settings: EmailChannelSettings, options: EmailChannelOptions = {}): FallbackChannel {
  const env = options.env ?? process.env;
  const policy = options.policy ?? outboundPolicyFromEnv(env);
  checkDestination(policy, settings.host, settings.port);
  const auth = settings.user ? { user: settings.user, pass: smtpPassword(settings, env) } : undefined;
  const maxAttempts = settings.maxAttempts ?? 3;
  let transport: Promise<SmtpTransport> | undefined;
  const open = async (): Promise<SmtpTransport> => {
    const [address] = await resolveDestination(policy, settings.host, settings.port);
    return nodemailer.createTransport({
      host: address!.address,
      port: settings.port,
      secure: settings.secure ?? false,
      tls: isIP(settings.host) === 0 ? { servername: settings.host } : undefined,
      auth,
      pool: true,
      maxConnections: options.maxConnections ?? 4,
      connectionTimeout: 10_000,
      socketTimeout: 30_000,
    });
  };
  /** One try; an unresolvable host is the channel's fault, tried again later; a refused one is a configuration fault (OutboundRefusedError). */
  const attempt = async (mail: SendMailOptions): Promise<TryResult<string>> => {
    let smtp: SmtpTransport;
    try {
      smtp = await (transport ??= open());
    } catch (err) {
      transport = undefined;
      if (err instanceof OutboundRefusedError) throw err;
      return { ok: false, retryable: true, channelFault: true, code: (err as NodeJS.ErrnoException).code ?? 'DNS', message: `SMTP host ${settings.host} cannot be resolved (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
    }
    return sendOnce(smtp, mail);
  };

  return {
    name: 'email',
    async send(msg) {
      const to = recipientAddress(msg, settings.addressColumn);
      const mail = {
        from: settings.from,
        to,
        subject: oneLine(renderTemplate([{ type: 'text', content: settings.subject ?? 'A message for you' }], msg.vars)),
        text: msg.text,
        messageId: emailMessageId(msg.idempotencyKey),
      };
      const { value, attempts } = await withRetries(maxAttempts, options.backoff ?? {}, () => attempt(mail));
      return { attempts, detail: value };
    },
    async close() {
      (await transport?.catch(() => undefined))?.close();
    },
  };
}

export function emailMessageId(idempotencyKey: string): string {
  return `<${idempotencyKey}@ppoppo-campaigns>`;
}

/**
 * The recipient's address from their vars; a missing or malformed one is a permanent failure. The
 * message names the column, not the address or the recipient: it is stored as the recipient's outcome.
 */
function recipientAddress(msg: FallbackMessage, column: string): string {
  const address = msg.vars[column]?.trim();
  const fail = (why: string) => new FallbackDeliveryError(`${why} in column "${column}"`, { permanent: true, attempts: 0 });
  if (!address) throw fail('no email address');
  if (!/^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/.test(address)) throw fail('not a valid email address');
  return address;
}

function smtpPassword(settings: EmailChannelSettings, env: Record<string, string | undefined>): string | undefined {
  const name = settings.passwordEnv ?? DEFAULT_SMTP_PASSWORD_ENV;
  const password = env[name];
  if (!password) throw new Error(`SMTP password: environment variable ${name} is not set on the worker (user ${settings.user})`);
  return password;
}

async function sendOnce(transport: SmtpTransport, mail: SendMailOptions): Promise<TryResult<string>> {
  try {
    const info = await transport.sendMail(mail);
    return { ok: true, value: withoutAddresses(info.response) };
  } catch (err) {
    const { code, responseCode, response } = err as { code?: string; responseCode?: number; response?: string };
    const message = `SMTP: ${withoutAddresses(response ?? (err instanceof Error ? err.message : String(err)))}`;
    // 4xx replies and connection trouble are temporary; 5xx replies and bad credentials are not.
    const retryable = responseCode !== undefined ? responseCode < 500 : code !== 'EAUTH' && code !== 'EMESSAGE';
    // A refused login (EAUTH, 530/534/535) or a server that cannot be reached is the channel's fault;
    // a 5xx about the mailbox (550, 553...) is the recipient's.
    const channelFault = retryable || code === 'EAUTH' || (responseCode !== undefined && SMTP_AUTH_REPLIES.includes(responseCode));
    return { ok: false, retryable, channelFault, code: code ?? (responseCode !== undefined ? `SMTP ${responseCode}` : 'SMTP'), message };
  }
}

/** SMTP replies often quote the recipient's address; the reply is kept as the outcome, the address is not. */
function withoutAddresses(text: string): string {
  return text.replace(/[^\s<>"'@]+@[^\s<>"'@]+/g, '<address>');
}

const SMTP_AUTH_REPLIES = [530, 534, 535, 538];

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
