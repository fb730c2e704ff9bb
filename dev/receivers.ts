// Real local receivers for fallback tests: an HTTP webhook endpoint and an SMTP server, both on
// random free ports, recording what they got.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: string;
}

export type WebhookAnswer = { status: number; headers?: Record<string, string> };

export interface WebhookReceiver {
  url: string;
  requests: ReceivedRequest[];
  close(): Promise<void>;
}

/** `answer` decides each response from the request and its 1-based number. Default: 200. */
export async function startWebhookReceiver(answer: (request: ReceivedRequest, n: number) => WebhookAnswer = () => ({ status: 200 })): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(request);
      const { status, headers } = answer(request, requests.length);
      res.writeHead(status, headers).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/fallback`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface ReceivedMail {
  from: string | undefined;
  to: string[];
  user: string | undefined;
  raw: string;
}

export interface SmtpReceiver {
  port: number;
  mails: ReceivedMail[];
  /** Every RCPT TO the server saw, accepted or not. */
  rcptAttempts: string[];
  close(): Promise<void>;
}

export interface SmtpReceiverOptions {
  /** Accepted login; without it, AUTH is optional. */
  login?: { user: string; password: string };
  /** Answer to RCPT TO: undefined accepts; otherwise an SMTP reply code and text. */
  rcpt?: (address: string, n: number) => { code: number; message: string } | undefined;
}

export async function startSmtpReceiver(options: SmtpReceiverOptions = {}): Promise<SmtpReceiver> {
  const mails: ReceivedMail[] = [];
  const rcptAttempts: string[] = [];
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    authOptional: !options.login,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      const ok = options.login && auth.username === options.login.user && auth.password === options.login.password;
      callback(ok ? null : new Error('bad credentials'), ok ? { user: auth.username } : undefined);
    },
    onRcptTo(address, _session, callback) {
      rcptAttempts.push(address.address);
      const refusal = options.rcpt?.(address.address, rcptAttempts.length);
      if (!refusal) return callback();
      callback(Object.assign(new Error(refusal.message), { responseCode: refusal.code }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined;
        mails.push({ from, to: session.envelope.rcptTo.map((rcpt) => rcpt.address), user: session.user as string | undefined, raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return { port, mails, rcptAttempts, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
