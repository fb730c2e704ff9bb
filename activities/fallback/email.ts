// Email fallback over SMTP (nodemailer). The address comes from the recipient's vars
// (settings.addressColumn); the Message-ID is deterministic, `<campaignId:ppnum@ppoppo-campaigns>`,
// so receivers can drop a duplicate sent by a retry.
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { renderTemplate } from '../../src/api/validation';
import type { EmailChannelSettings } from '../../src/campaign/fallback-settings';
import { FallbackDeliveryError, type FallbackChannel, type FallbackMessage } from './channel';
import { withRetries, type BackoffOptions, type TryResult } from './retry';

export const DEFAULT_SMTP_PASSWORD_ENV = 'SMTP_PASSWORD';

export interface EmailChannelOptions {
  env?: Record<string, string | undefined>;
  backoff?: BackoffOptions;
  /** SMTP connections kept open at once (match the batch concurrency). Default 4. */
  maxConnections?: number;
}

export function createEmailChannel(settings: EmailChannelSettings, options: EmailChannelOptions = {}): FallbackChannel {
  const transport = nodemailer.createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.secure ?? false,
    auth: settings.user ? { user: settings.user, pass: smtpPassword(settings, options.env ?? process.env) } : undefined,
    pool: true,
    maxConnections: options.maxConnections ?? 4,
    connectionTimeout: 10_000,
    socketTimeout: 30_000,
  });
  const maxAttempts = settings.maxAttempts ?? 3;

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
      const { value, attempts } = await withRetries(maxAttempts, options.backoff ?? {}, () => sendOnce(transport, mail));
      return { attempts, detail: value };
    },
    async close() {
      transport.close();
    },
  };
}

export function emailMessageId(idempotencyKey: string): string {
  return `<${idempotencyKey}@ppoppo-campaigns>`;
}

/** The recipient's address from their vars; a missing or malformed one is a permanent failure. */
function recipientAddress(msg: FallbackMessage, column: string): string {
  const address = msg.vars[column]?.trim();
  const fail = (why: string) => new FallbackDeliveryError(`recipient ${msg.ppnum}: ${why} in column "${column}"`, { permanent: true, attempts: 0 });
  if (!address) throw fail('no email address');
  if (!/^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/.test(address)) throw fail(`invalid email address ${JSON.stringify(address)}`);
  return address;
}

function smtpPassword(settings: EmailChannelSettings, env: Record<string, string | undefined>): string | undefined {
  const name = settings.passwordEnv ?? DEFAULT_SMTP_PASSWORD_ENV;
  const password = env[name];
  if (!password) throw new Error(`SMTP password: environment variable ${name} is not set (user ${settings.user})`);
  return password;
}

async function sendOnce(transport: Transporter<SMTPTransport.SentMessageInfo>, mail: SendMailOptions): Promise<TryResult<string>> {
  try {
    const info = await transport.sendMail(mail);
    return { ok: true, value: info.response };
  } catch (err) {
    const { code, responseCode, response } = err as { code?: string; responseCode?: number; response?: string };
    const message = `SMTP: ${response ?? (err instanceof Error ? err.message : String(err))}`;
    // 4xx replies and connection trouble are temporary; 5xx replies and bad credentials are not.
    const retryable = responseCode !== undefined ? responseCode < 500 : code !== 'EAUTH' && code !== 'EMESSAGE';
    // A refused login (EAUTH, 530/534/535) or a server that cannot be reached is the channel's fault;
    // a 5xx about the mailbox (550, 553...) is the recipient's.
    const channelFault = retryable || code === 'EAUTH' || (responseCode !== undefined && SMTP_AUTH_REPLIES.includes(responseCode));
    return { ok: false, retryable, channelFault, code: code ?? (responseCode !== undefined ? `SMTP ${responseCode}` : 'SMTP'), message };
  }
}

const SMTP_AUTH_REPLIES = [530, 534, 535, 538];

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}
