// Email channel against a real local SMTP server (smtp-server): address from the recipient's
// column, deterministic Message-ID, body, auth from an env var, permanent vs temporary failures,
// and the SMTP host allowed by FALLBACK_ALLOWED_HOSTS (the local server is allowed explicitly).
import { afterEach, describe, expect, it } from 'vitest';
import type { FallbackMessage } from '../../activities/fallback/channel';
import type { EmailChannelSettings } from '../../src/campaign/fallback-settings';
import { createEmailChannel } from '../../activities/fallback/email';
import { sendExpectingFailure } from './expect-failure';
import { startSmtpReceiver, type SmtpReceiver } from '../../dev/receivers';

const fastBackoff = { initialMs: 5, maxMs: 50 };

function message(vars: Record<string, string>): FallbackMessage {
  return { campaignId: 'spring', ppnum: '12300000003', outcome: 'denied', idempotencyKey: 'spring:12300000003', text: 'Hello Ana, see you elsewhere', vars };
}

function settings(port: number, extra: Partial<EmailChannelSettings> = {}): EmailChannelSettings {
  return { type: 'email', host: '127.0.0.1', port, from: 'campaigns@example.com', addressColumn: 'email', subject: 'News for {{name}}', ...extra };
}

/** The worker's environment: the local SMTP server's address allowed, plus `extra`. */
function allowing(port: number, extra: Record<string, string> = {}): Record<string, string> {
  return { FALLBACK_ALLOWED_HOSTS: `127.0.0.1:${port}`, ...extra };
}

let receiver: SmtpReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

describe('email fallback channel', () => {
  it('mails the rendered text to the address in the recipient column, with a deterministic Message-ID', async () => {
    receiver = await startSmtpReceiver({ login: { user: 'mailer', password: 'smtp-pass' } });
    const channel = createEmailChannel(settings(receiver.port, { user: 'mailer', passwordEnv: 'FALLBACK_SECRET_TEST_SMTP' }), { env: allowing(receiver.port, { FALLBACK_SECRET_TEST_SMTP: 'smtp-pass' }) });
    try {
      const delivery = await channel.send(message({ name: 'Ana', email: 'ana@example.com' }));
      expect(delivery.attempts).toBe(1);
    } finally {
      await channel.close?.();
    }

    expect(receiver.mails).toHaveLength(1);
    const [mail] = receiver.mails;
    expect(mail!.user).toBe('mailer');
    expect(mail!.from).toBe('campaigns@example.com');
    expect(mail!.to).toEqual(['ana@example.com']);
    expect(mail!.raw).toMatch(/^Message-ID: <spring:12300000003@ppoppo-campaigns>\r?$/im);
    expect(mail!.raw).toMatch(/^Subject: News for Ana\r?$/im);
    expect(mail!.raw).toContain('Hello Ana, see you elsewhere');
  });

  it('fails permanently, naming the column (not the recipient or the address), when the address is missing or invalid', async () => {
    receiver = await startSmtpReceiver();
    const channel = createEmailChannel(settings(receiver.port), { env: allowing(receiver.port) });
    try {
      const missing = await sendExpectingFailure(channel.send(message({ name: 'Ana' })));
      expect(missing.permanent).toBe(true);
      expect(missing.channelFault).toBe(false); // this recipient's, not the channel's
      expect(missing.message).toBe('no email address in column "email"');

      const invalid = await sendExpectingFailure(channel.send(message({ email: 'not an address' })));
      expect(invalid.permanent).toBe(true);
      expect(invalid.message).toBe('not a valid email address in column "email"'); // never the address itself
    } finally {
      await channel.close?.();
    }
    expect(receiver.rcptAttempts).toEqual([]);
  });

  it('treats a 5xx reply as permanent (no retry)', async () => {
    receiver = await startSmtpReceiver({ rcpt: (address) => ({ code: 550, message: `No such user <${address}>` }) });
    const channel = createEmailChannel(settings(receiver.port), { env: allowing(receiver.port), backoff: fastBackoff });
    try {
      const error = await sendExpectingFailure(channel.send(message({ email: 'gone@example.com' })));
      expect(error.permanent).toBe(true);
      expect(error.channelFault).toBe(false);
      expect(error.attempts).toBe(1);
      expect(error.message).toContain('550');
      expect(error.message).toContain('No such user <<address>>'); // the reply is kept, the address is not
    } finally {
      await channel.close?.();
    }
    expect(receiver.rcptAttempts).toEqual(['gone@example.com']);
  });

  it('retries a 4xx reply and then delivers', async () => {
    receiver = await startSmtpReceiver({ rcpt: (_address, n) => (n === 1 ? { code: 451, message: 'Try again later' } : undefined) });
    const channel = createEmailChannel(settings(receiver.port), { env: allowing(receiver.port), backoff: fastBackoff });
    try {
      const delivery = await channel.send(message({ email: 'ana@example.com' }));
      expect(delivery.attempts).toBe(2);
    } finally {
      await channel.close?.();
    }
    expect(receiver.mails).toHaveLength(1);
  });

  it('refuses to start when the password variable is unset', () => {
    expect(() => createEmailChannel(settings(25, { user: 'mailer' }), { env: allowing(25) })).toThrow('SMTP password: environment variable FALLBACK_SECRET_SMTP is not set on the worker (user mailer)');
  });

  it('refuses an SMTP host FALLBACK_ALLOWED_HOSTS does not allow, before connecting', async () => {
    receiver = await startSmtpReceiver();
    for (const env of [{}, { FALLBACK_ALLOWED_HOSTS: 'smtp.example.com:587' }, { FALLBACK_ALLOWED_HOSTS: `127.0.0.1:${receiver.port + 1}` }]) {
      expect(() => createEmailChannel(settings(receiver!.port), { env })).toThrow(/127\.0\.0\.1:\d+ (is a private or loopback address|is not in FALLBACK_ALLOWED_HOSTS)/);
    }
    expect(receiver.rcptAttempts).toEqual([]);
  });
});
