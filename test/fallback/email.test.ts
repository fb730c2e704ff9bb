// Email channel against a real local SMTP server (smtp-server): address from the recipient's
// column, deterministic Message-ID, body, auth from an env var, permanent vs temporary failures.
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

let receiver: SmtpReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

describe('email fallback channel', () => {
  it('mails the rendered text to the address in the recipient column, with a deterministic Message-ID', async () => {
    receiver = await startSmtpReceiver({ login: { user: 'mailer', password: 'smtp-pass' } });
    const channel = createEmailChannel(settings(receiver.port, { user: 'mailer', passwordEnv: 'TEST_SMTP_PASSWORD' }), { env: { TEST_SMTP_PASSWORD: 'smtp-pass' } });
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

  it('fails permanently, naming recipient and column, when the address is missing or invalid', async () => {
    receiver = await startSmtpReceiver();
    const channel = createEmailChannel(settings(receiver.port), { env: {} });
    try {
      const missing = await sendExpectingFailure(channel.send(message({ name: 'Ana' })));
      expect(missing.permanent).toBe(true);
      expect(missing.channelFault).toBe(false); // this recipient's, not the channel's
      expect(missing.message).toBe('recipient 12300000003: no email address in column "email"');

      const invalid = await sendExpectingFailure(channel.send(message({ email: 'not an address' })));
      expect(invalid.permanent).toBe(true);
      expect(invalid.message).toBe('recipient 12300000003: invalid email address "not an address" in column "email"');
    } finally {
      await channel.close?.();
    }
    expect(receiver.rcptAttempts).toEqual([]);
  });

  it('treats a 5xx reply as permanent (no retry)', async () => {
    receiver = await startSmtpReceiver({ rcpt: () => ({ code: 550, message: 'No such user' }) });
    const channel = createEmailChannel(settings(receiver.port), { env: {}, backoff: fastBackoff });
    try {
      const error = await sendExpectingFailure(channel.send(message({ email: 'gone@example.com' })));
      expect(error.permanent).toBe(true);
      expect(error.channelFault).toBe(false);
      expect(error.attempts).toBe(1);
      expect(error.message).toContain('550');
    } finally {
      await channel.close?.();
    }
    expect(receiver.rcptAttempts).toEqual(['gone@example.com']);
  });

  it('retries a 4xx reply and then delivers', async () => {
    receiver = await startSmtpReceiver({ rcpt: (_address, n) => (n === 1 ? { code: 451, message: 'Try again later' } : undefined) });
    const channel = createEmailChannel(settings(receiver.port), { env: {}, backoff: fastBackoff });
    try {
      const delivery = await channel.send(message({ email: 'ana@example.com' }));
      expect(delivery.attempts).toBe(2);
    } finally {
      await channel.close?.();
    }
    expect(receiver.mails).toHaveLength(1);
  });

  it('refuses to start when the password variable is unset', () => {
    expect(() => createEmailChannel(settings(25, { user: 'mailer' }), { env: {} })).toThrow(/SMTP_PASSWORD is not set/);
  });
});
