import { describe, expect, it } from 'vitest';
import { DEFAULT_SENDS_PER_CHUNK, campaignSettings, checkInlineRecipients, parseCampaignSpec, withSendsPerChunk, parseDuration, requiredColumnsFor, requiredVarsFor, timeZoneGrouping } from '../../src/campaign/spec';
import { fingerprintDifferences, specFingerprint } from '../../src/campaign/fingerprint';
import type { CampaignSpec } from '../../src/campaign/spec';
import { chunkInline, chunkTimeZone } from '../../src/campaign/chunk-source';
import type { PostgresChunkSource } from '../../src/campaign/chunk-source';
import { describeRecipientSource } from '../../src/campaign/recipient-source';
import { countRecipients, emptyCounts } from '../../src/campaign/outcomes';
import { fromRanges, toRanges } from '../../src/campaign/ranges';
import { fairnessKey } from '../../src/temporal/names';

const validSpec = {
  campaignId: 'spring-sale',
  template: { name: 'spring', components: [{ type: 'text', content: 'Hello {{name}}' }] },
  recipients: { inline: [{ ppnum: '12300000001', vars: { name: 'Ada' } }] },
};

describe('parseDuration', () => {
  it.each([
    ['24h', 86_400_000],
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['2d', 172_800_000],
    ['1500', 1500],
  ])('%s → %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', 'soon', '10 minutes', '-5s', '5x'])('rejects %j', (text) => expect(parseDuration(text)).toBeUndefined());
});

describe('parseCampaignSpec', () => {
  it('accepts a minimal spec and applies defaults', () => {
    const { spec, issues } = parseCampaignSpec(validSpec);
    expect(issues).toEqual([]);
    expect(campaignSettings(spec!)).toEqual({
      consentWindowMs: 86_400_000,
      chunkSize: 1000,
      chunksInFlight: 4,
      sendsPerChunk: 5,
      recipientsPerChunk: 5000,
      onInvalidRows: 'abort',
      fallbackOn: [],
      fallbackRetryForMs: 6 * 3_600_000,
    });
  });

  it('plans chunks of chunkSize × sendsPerChunk recipients, and names a sendsPerChunk out of range', () => {
    expect(campaignSettings({ ...validSpec, limits: { chunkSize: 200, sendsPerChunk: 3 } } as never)).toMatchObject({ chunkSize: 200, sendsPerChunk: 3, recipientsPerChunk: 600 });
    for (const sendsPerChunk of [0, 11, 2.5, '5']) {
      expect(parseCampaignSpec({ ...validSpec, limits: { sendsPerChunk } }).issues.map((i) => `${i.path}: ${i.message}`)).toEqual(['limits.sendsPerChunk: sendsPerChunk must be a whole number from 1 to 10']);
    }
  });

  it('names the JSON path of every problem', () => {
    const { spec, issues } = parseCampaignSpec({
      campaignId: 'bad/id',
      template: { name: 'x', components: [{ type: 'button', label: 'Go', url: 'ftp://x' }] },
      recipients: { file: 'list.txt' },
      consentWindow: 'forever',
      fallback: { on: ['denied', 'bounced'], channel: {} },
      limits: { chunkSize: 5000, chunksInFlight: 0 },
      onInvalidRows: 'ignore',
      recipient: [],
    });
    expect(spec).toBeUndefined();
    expect(issues.map((issue) => issue.path).sort()).toEqual(
      [
        'campaignId',
        'consentWindow',
        'fallback.channel',
        'fallback.on[1]',
        'limits.chunkSize',
        'limits.chunksInFlight',
        'onInvalidRows',
        'recipient',
        'recipients.format',
        'template.components[0].url',
      ].sort(),
    );
  });

  it('checks the fallback channel settings', () => {
    const paths = (fallback: unknown) => parseCampaignSpec({ ...validSpec, fallback }).issues.map((i) => `${i.path}: ${i.message}`);
    expect(paths({ on: ['denied'], channel: { type: 'webhook', url: 'ftp://x' } })).toEqual(['fallback.channel: fallback.channel.url must be an http(s) URL']);
    expect(paths({ on: ['denied'], channel: { type: 'email', host: 'smtp', port: 25, from: 'a@b', addressColumn: 'email' } })).toEqual(['fallback.text: an email fallback needs a text']);
    expect(paths({ on: ['denied'], channel: { type: 'webhook', url: 'https://hooks.example/x' } })).toEqual([]);
  });

  it('lets a spec name secrets only as FALLBACK_SECRET_ variables, and asks for "unsigned" in so many words', () => {
    const paths = (channel: object) => parseCampaignSpec({ ...validSpec, fallback: { on: ['denied'], channel } }).issues.map((i) => i.message);
    const webhook = { type: 'webhook', url: 'https://hooks.example/x' };
    expect(paths({ ...webhook, secretEnv: 'PAS_PCS_CLIENT_SECRET' })).toEqual([
      'fallback.channel.secretEnv must name an environment variable starting with FALLBACK_SECRET_ (e.g. FALLBACK_SECRET_PARTNER_HOOK), got "PAS_PCS_CLIENT_SECRET"',
    ]);
    expect(paths({ ...webhook, secretEnv: 'FALLBACK_SECRET_partner' })).toHaveLength(1);
    expect(paths({ ...webhook, secretEnv: 'FALLBACK_SECRET_PARTNER' })).toEqual([]);
    expect(paths({ type: 'email', host: 'smtp.example.com', port: 587, user: 'u', passwordEnv: 'HOME', from: 'a@b', addressColumn: 'email' })[0]).toContain('passwordEnv must name an environment variable starting with FALLBACK_SECRET_');
    expect(paths({ ...webhook, unsigned: 'yes' })).toEqual(['fallback.channel.unsigned must be true or false']);
    expect(paths({ ...webhook, unsigned: true, secretEnv: 'FALLBACK_SECRET_X' })).toEqual(['fallback.channel: give secretEnv or "unsigned": true, not both']);
    expect(paths({ ...webhook, url: 'https://user:pw@hooks.example/x' })).toEqual(['fallback.channel.url must not hold credentials (user:password@); sign with secretEnv instead']);
    const { spec } = parseCampaignSpec({ ...validSpec, fallback: { on: ['denied'], channel: { ...webhook, unsigned: true } } });
    expect(spec!.fallback!.channel).toMatchObject({ unsigned: true });
  });

  it('rejects misspelled fields at any depth, by path, naming the field meant', () => {
    const messages = (spec: unknown) => parseCampaignSpec(spec).issues.map((i) => `${i.path}: ${i.message}`);
    expect(
      messages({
        ...validSpec,
        template: { name: 'x', components: [{ type: 'text', contnet: 'Hi', content: 'Hi' }] },
        recipients: { inline: [{ ppnum: '12300000001', var: { name: 'A' } }] },
        poll: { expiresInHour: 2 },
        fallback: { On: ['denied'], on: ['denied'], channel: { type: 'webhook', url: 'https://x.example/h', urll: 'x' } },
        limits: { chunksize: 10 },
      }),
    ).toEqual([
      'template.components[0].contnet: unknown field "contnet"; expected one of type, content',
      'recipients.inline[0].var: unknown field "var"; expected one of ppnum, vars',
      'poll.expiresInHour: unknown field "expiresInHour"; expected one of expiresInHours, allowMultiple',
      'fallback.On: unknown field "On"; did you mean "on"?',
      'fallback.channel.urll: unknown field "urll"; expected one of type, kind, url, secretEnv, unsigned, timeoutMs, maxAttempts',
      'limits.chunksize: unknown field "chunksize"; did you mean "chunkSize"?',
    ]);
    expect(messages({ ...validSpec, recipients: { file: 'a.csv', fromat: 'csv' } })).toEqual(['recipients.fromat: unknown field "fromat"; expected one of file, format, encoding, timeZoneColumn']);
  });

  it('keeps the consent window at 1 minute or more (histories recorded before the minimum still parse)', () => {
    const paths = (consentWindow: string) => parseCampaignSpec({ ...validSpec, consentWindow }).issues.map((i) => i.message);
    expect(paths('1ms')).toEqual(['consentWindow must be at least 1m (got "1ms"): a shorter window turns slow answers into expiries']);
    expect(paths('59s')).toHaveLength(1);
    expect(paths('1m')).toEqual([]);
    expect(parseCampaignSpec({ ...validSpec, consentWindow: '3s', limits: { chunksize: 2 } }, 'v1').issues).toEqual([]);
  });

  it('refuses an inline spec Temporal could not take (2 MB per input), pointing to a file', () => {
    const inline = Array.from({ length: 700 }, (_, i) => ({ ppnum: String(45600000000 + i), vars: { note: 'x'.repeat(3_000) } }));
    const { issues } = parseCampaignSpec({ ...validSpec, recipients: { inline } });
    expect(issues).toHaveLength(1);
    expect(issues[0]!.path).toBe('recipients.inline');
    expect(issues[0]!.message).toMatch(/^the spec takes 2,1\d\d,\d{3} bytes; Temporal takes at most 2 MB per workflow input .*: put the recipients in a CSV or NDJSON file/);
  });

  it('takes a follow-up source, a file encoding and a fallback retry policy, and checks each', () => {
    expect(parseCampaignSpec({ ...validSpec, recipients: { retryOf: 'spring-sale', outcome: 'failed' } }).issues).toEqual([]);
    const messages = (extra: object) => parseCampaignSpec({ ...validSpec, ...extra }).issues.map((i) => i.path);
    expect(messages({ recipients: { retryOf: 'bad/id', outcome: 'delivered' } })).toEqual(['recipients.retryOf', 'recipients.outcome']);
    expect(messages({ recipients: { file: 'a.csv', encoding: 'cp1252' } })).toEqual(['recipients.encoding']);
    expect(messages({ fallback: { on: ['denied'], channel: { type: 'webhook', url: 'https://x.example/h' }, retryFor: '5s' } })).toEqual(['fallback.retryFor']);
    expect(parseCampaignSpec({ ...validSpec, recipients: { file: '/d/a.csv', encoding: 'latin1' } }).spec!.recipients).toEqual({ file: '/d/a.csv', format: 'csv', encoding: 'latin1' });
  });

  it('rejects a non-object and an empty inline list', () => {
    expect(parseCampaignSpec('x').issues).toHaveLength(1);
    expect(parseCampaignSpec({ ...validSpec, recipients: { inline: [] } }).issues.map((i) => i.path)).toEqual(['recipients.inline']);
  });

  it('always includes denied in fallback.on and infers the file format', () => {
    const { spec } = parseCampaignSpec({ ...validSpec, recipients: { file: '/data/list.ndjson' }, fallback: { on: ['expired'], channel: { type: 'webhook', url: 'http://x' } } });
    expect(spec!.fallback!.on).toEqual(['denied', 'expired']);
    expect(spec!.recipients).toEqual({ file: '/data/list.ndjson', format: 'ndjson' });
  });
});

describe('recipient sources any worker can read', () => {
  const problems = (recipients: unknown) => parseCampaignSpec({ ...validSpec, recipients }).issues.map((i) => `${i.path}: ${i.message}`);

  it('accepts a URL and a PostgreSQL table or named query, stating the URL format from its path', () => {
    const { spec } = parseCampaignSpec({ ...validSpec, recipients: { url: 'https://bucket.example/lists/spring.ndjson?X-Amz-Signature=abc' } });
    expect(spec!.recipients).toEqual({ url: 'https://bucket.example/lists/spring.ndjson?X-Amz-Signature=abc', format: 'ndjson' });
    expect(problems({ postgres: { table: 'marketing.audience', ppnumColumn: 'phone', columns: ['name', 'city'] } })).toEqual([]);
    expect(problems({ postgres: { query: 'vip-customers' } })).toEqual([]);
  });

  it('names the field of every problem', () => {
    expect(problems({ url: 'ftp://x/list.csv' })).toEqual(['recipients.url: url must be an http:// or https:// address of a CSV or NDJSON file']);
    expect(problems({ url: 'https://user:secret@host/list.csv' })).toEqual([expect.stringMatching(/^recipients\.url: url must not carry a user name or password/)]);
    expect(problems({ url: 'https://host/export?id=3' })).toEqual([expect.stringMatching(/^recipients\.format: cannot tell the format from the URL's path/)]);
    expect(problems({ url: 'https://host/a.csv', file: '/b.csv' })).toEqual(['recipients: give one source, not file and url']);
    expect(problems({ postgres: { table: 'audience', query: 'vip' } })).toEqual([expect.stringMatching(/^recipients\.postgres: postgres needs either "table" or "query"/)]);
    expect(problems({ postgres: { table: 'audience; DROP TABLE audience' } }).map((p) => p.split(':')[0])).toEqual(['recipients.postgres.table']);
    expect(problems({ postgres: { query: 'SELECT * FROM audience' } }).map((p) => p.split(':')[0])).toEqual(['recipients.postgres.query']);
    expect(problems({ postgres: { table: 'audience', ppnumColumn: 'a b', columns: ['name', 'x"y', 'name'], where: 'tier = 1' } }).map((p) => p.split(':')[0])).toEqual([
      'recipients.postgres.where',
      'recipients.postgres.ppnumColumn',
      'recipients.postgres.columns[1]',
      'recipients.postgres.columns[2]',
    ]);
    expect(problems({ postgres: { table: 'audience' }, format: 'csv' }).map((p) => p.split(':')[0])).toEqual(['recipients.format']);
  });

  it('describes a source without a URL\'s query string', () => {
    expect(describeRecipientSource({ url: 'https://bucket.example/l.csv?X-Amz-Signature=secret#x' })).toBe('https://bucket.example/l.csv');
    expect(describeRecipientSource({ postgres: { query: 'vip' } })).toBe('PostgreSQL query "vip"');
  });
});

describe('checkInlineRecipients', () => {
  it('reports invalid rows by JSON path and drops duplicates', () => {
    const result = checkInlineRecipients(
      [
        { ppnum: '12300000001', vars: { name: 'A' } },
        { ppnum: '123-bad', vars: { name: 'B' } },
        { ppnum: '12300000002', vars: {} },
        { ppnum: '12300000001', vars: { name: 'A again' } },
      ],
      ['name'],
    );
    expect(result.recipients.map((r) => r.ppnum)).toEqual(['12300000001']);
    expect(result.invalidCount).toBe(2);
    expect(result.duplicateCount).toBe(1);
    expect(result.issues.map((i) => i.field)).toEqual(['recipients.inline[1].ppnum', 'recipients.inline[2].vars.name', 'recipients.inline[3].ppnum']);
  });

  it('refuses a recipient too large for a request, naming the variable', () => {
    const result = checkInlineRecipients([{ ppnum: '12300000001', vars: { name: 'A', note: 'x'.repeat(10_000) } }], ['name'], { checkSize: true });
    expect(result.invalidCount).toBe(1);
    expect(result.issues[0]).toMatchObject({ field: 'recipients.inline[0].vars.note' });
    expect(result.issues[0]!.message).toBe(
      "the recipient takes 10,056 bytes (vars.note alone 10,000); at most 4,000 fit, so that a request of 1,000 stays within the API's 4 MB message limit",
    );
  });

  it('needs the email fallback\'s address column in every entry, though it may be empty', () => {
    const fallback = { on: ['denied' as const], channel: { type: 'email' as const, host: 'smtp', port: 25, from: 'a@b.c', addressColumn: 'email' }, text: 'Hi' };
    expect(requiredColumnsFor(fallback)).toEqual(['email']);
    const result = checkInlineRecipients([{ ppnum: '12300000001', vars: { email: '' } }, { ppnum: '12300000002', vars: {} }], [], { requiredColumns: ['email'] });
    expect(result.recipients.map((r) => r.ppnum)).toEqual(['12300000001']);
    expect(result.issues.map((i) => i.field)).toEqual(['recipients.inline[1].vars.email']);
  });

  it('requires the fallback text placeholders too', () => {
    expect(requiredVarsFor(['name'], { on: ['denied'], channel: { type: 'webhook', url: 'https://example.com/hook' }, text: 'Hi {{name}}, code {{code}}' })).toEqual(['name', 'code']);
  });
});

describe('spec fingerprints', () => {
  it('are equal for equal specs whatever the key order, and name the fields that differ', () => {
    const reordered = { recipients: validSpec.recipients, template: { components: validSpec.template.components, name: 'spring' }, campaignId: 'spring-sale' };
    expect(specFingerprint(parseCampaignSpec(reordered).spec!)).toEqual(specFingerprint(parseCampaignSpec(validSpec).spec!));
    const other = specFingerprint(parseCampaignSpec({ ...validSpec, template: { name: 'autumn', components: validSpec.template.components }, limits: { chunkSize: 10 } }).spec!);
    expect(fingerprintDifferences(specFingerprint(parseCampaignSpec(validSpec).spec!), other)).toEqual(['limits', 'template']);
  });

  it('take the default sendsPerChunk a campaign writes into its spec as the spec without it, and any other value as a change', () => {
    const spec = parseCampaignSpec(validSpec).spec!;
    expect(specFingerprint(withSendsPerChunk(spec, DEFAULT_SENDS_PER_CHUNK))).toEqual(specFingerprint(spec));
    const sized = parseCampaignSpec({ ...validSpec, limits: { chunkSize: 10 } }).spec!;
    expect(specFingerprint(withSendsPerChunk(sized, DEFAULT_SENDS_PER_CHUNK))).toEqual(specFingerprint(sized));
    expect(fingerprintDifferences(specFingerprint(spec), specFingerprint(withSendsPerChunk(spec, DEFAULT_SENDS_PER_CHUNK + 1)))).toEqual(['limits']);
  });
});

describe('withSendsPerChunk', () => {
  it('sets sendsPerChunk only where the spec does not, and leaves limits that are not an object to validation', () => {
    const spec = parseCampaignSpec(validSpec).spec!;
    expect(withSendsPerChunk(spec, 5).limits).toEqual({ sendsPerChunk: 5 });
    expect(withSendsPerChunk({ ...spec, limits: { chunkSize: 10 } }, 5).limits).toEqual({ chunkSize: 10, sendsPerChunk: 5 });
    expect(withSendsPerChunk({ ...spec, limits: { sendsPerChunk: 2 } }, 5).limits).toEqual({ sendsPerChunk: 2 });
    const odd = { ...spec, limits: 'big' as unknown as CampaignSpec['limits'] };
    expect(withSendsPerChunk(odd, 5)).toBe(odd);
    expect(spec.limits).toBeUndefined(); // not changed in place
  });
});

describe('chunking and counting', () => {
  it('splits inline lists into chunks of at most chunkSize', () => {
    const recipients = Array.from({ length: 7 }, (_, i) => ({ ppnum: `1230000010${i}`, vars: {} }));
    const chunks = chunkInline(recipients, 3);
    expect(chunks.map((c) => (c.kind === 'inline' ? c.recipients.length : -1))).toEqual([3, 3, 1]);
  });

  it('counts recipients, not fallbacks', () => {
    expect(countRecipients({ ...emptyCounts(), delivered: 2, denied: 1, fallbackSent: 1 })).toBe(3);
  });

  it('carries chunk index sets as ranges', () => {
    const set = new Set([0, 1, 2, 5, 7, 8]);
    expect(toRanges(set)).toEqual([[0, 2], [5, 5], [7, 8]]);
    expect(fromRanges(toRanges(set))).toEqual(set);
  });
});

describe('start time, deadline, throttle and weight in the spec', () => {
  it('keeps a fairness key within Temporal\'s 64 bytes, distinct for long ids that share their start', () => {
    expect(fairnessKey('spring-sale')).toBe('spring-sale');
    const long = (end: string) => `${'x'.repeat(100)}${end}`;
    expect(fairnessKey(long('a'))).toHaveLength(64);
    expect(fairnessKey(long('a'))).not.toBe(fairnessKey(long('b')));
  });

  it('takes a send window and names its bad fields by path', () => {
    expect(parseCampaignSpec({ ...validSpec, sendWindow: { days: ['mon', 'fri'], from: '09:00', until: '20:00', timeZone: 'Asia/Seoul' } }).issues).toEqual([]);
    expect(parseCampaignSpec({ ...validSpec, sendWindow: { from: '09:00', until: '20:00', timeZone: 'KST' } }).issues.map((i) => i.path)).toEqual(['sendWindow.timeZone']);
  });

  it('takes a weight from 0.001 to 1000, naming the field otherwise', () => {
    expect(parseCampaignSpec({ ...validSpec, weight: 3 }).issues).toEqual([]);
    expect(parseCampaignSpec({ ...validSpec, weight: 0 }).issues).toEqual([{ path: 'weight', message: expect.stringContaining('weight must be a number from 0.001 to 1000') }]);
  });

  it('takes ISO times with an offset and a throttle, and states them in the settings', () => {
    const { spec, issues } = parseCampaignSpec({ ...validSpec, startAt: '2030-03-01T09:00:00+09:00', deadline: '2030-03-01T20:00:00+09:00', throttle: 600 });
    expect(issues).toEqual([]);
    expect(campaignSettings(spec!)).toMatchObject({ startAtMs: Date.parse('2030-03-01T00:00:00Z'), deadlineMs: Date.parse('2030-03-01T11:00:00Z'), throttle: 600 });
  });

  it('names the field of a time without an offset, a malformed time, a deadline before the start and a bad throttle', () => {
    const paths = (input: Record<string, unknown>) => parseCampaignSpec({ ...validSpec, ...input }).issues;
    expect(paths({ startAt: '2030-03-01T09:00:00' })).toEqual([{ path: 'startAt', message: expect.stringContaining('ISO 8601 time with its offset') }]);
    expect(paths({ deadline: 'friday' })).toEqual([{ path: 'deadline', message: expect.stringContaining('(got "friday")') }]);
    expect(paths({ deadline: '2030-02-30T09:00:00Z' })[0]?.path).toBe('deadline');
    expect(paths({ startAt: '2030-03-01T09:00:00Z', deadline: '2030-03-01T08:00:00Z' })).toEqual([{ path: 'deadline', message: expect.stringContaining('must be after startAt') }]);
    expect(paths({ throttle: 0 })).toEqual([{ path: 'throttle', message: expect.stringContaining('whole number of recipients per minute') }]);
    expect(paths({ throttle: '100' })[0]?.path).toBe('throttle');
    expect(paths({ startat: '2030-03-01T09:00:00Z' })).toEqual([{ path: 'startat', message: expect.stringContaining('did you mean "startAt"') }]);
  });
});

describe('per-recipient time zones (recipients.timeZoneColumn)', () => {
  const sendWindow = { from: '09:00', until: '20:00', timeZone: 'Asia/Seoul' };
  const paths = (input: unknown) => parseCampaignSpec(input).issues.map((i) => `${i.path}: ${i.message}`);

  it('is taken for files, URLs, inline lists and PostgreSQL, with a sendWindow, and kept by the normalized spec', () => {
    expect(paths({ ...validSpec, sendWindow, recipients: { file: 'a.csv', timeZoneColumn: 'tz' } })).toEqual([]);
    expect(paths({ ...validSpec, sendWindow, recipients: { url: 'https://files.example/a.ndjson', timeZoneColumn: 'tz' } })).toEqual([]);
    expect(paths({ ...validSpec, sendWindow, recipients: { ...validSpec.recipients, timeZoneColumn: 'tz' } })).toEqual([]);
    expect(parseCampaignSpec({ ...validSpec, sendWindow, recipients: { file: 'a.csv', timeZoneColumn: 'tz' } }).spec!.recipients).toEqual({ file: 'a.csv', format: 'csv', timeZoneColumn: 'tz' });
    const postgres = parseCampaignSpec({ ...validSpec, sendWindow, recipients: { postgres: { table: 'audience' }, timeZoneColumn: 'tz' } });
    expect(postgres.issues).toEqual([]);
    expect(postgres.spec!.recipients).toEqual({ postgres: { table: 'audience' }, timeZoneColumn: 'tz' });
    expect(timeZoneGrouping(postgres.spec!)).toEqual({ column: 'tz', fallback: 'Asia/Seoul' });
    // The campaign waits for a PostgreSQL chunk's own zone, as for a file's.
    const keyRange: PostgresChunkSource = { kind: 'postgres', relation: { table: 'audience' }, ppnumColumn: 'ppnum', columns: [], requiredVars: [], last: '12300000009', count: 1, digest: 'd' };
    expect(chunkTimeZone({ ...keyRange, timeZone: 'Europe/Berlin', timeZoneColumn: 'tz', emptyZone: 'Asia/Seoul' })).toBe('Europe/Berlin');
    expect(chunkTimeZone(keyRange)).toBeUndefined();
  });

  it('names the field when a source cannot carry zones, when there is no sendWindow, or when the column is no name', () => {
    expect(paths({ ...validSpec, recipients: { postgres: { table: 'audience' }, timeZoneColumn: 'tz' } })).toEqual([expect.stringMatching(/^recipients\.timeZoneColumn: a per-recipient time zone needs a sendWindow/)]);
    expect(paths({ ...validSpec, sendWindow, recipients: { postgres: { table: 'audience' }, timeZoneColumn: 'tz"; DROP TABLE audience' } })).toEqual([
      'recipients.timeZoneColumn: a PostgreSQL column name is letters, digits and underscores, not starting with a digit',
    ]);
    expect(paths({ ...validSpec, sendWindow, recipients: { postgres: { table: 'audience', timeZoneColumn: 'tz' } } })).toEqual([expect.stringMatching(/^recipients\.postgres\.timeZoneColumn: unknown field/)]);
    expect(paths({ ...validSpec, sendWindow, recipients: { retryOf: 'spring', outcome: 'failed', timeZoneColumn: 'tz' } })[0]).toMatch(/^recipients\.timeZoneColumn: .*not from a follow-up \(retryOf\)/);
    expect(paths({ ...validSpec, recipients: { file: 'a.csv', timeZoneColumn: 'tz' } })).toEqual([
      'recipients.timeZoneColumn: a per-recipient time zone needs a sendWindow: { "from": "09:00", "until": "20:00", "timeZone": "<zone of recipients without one>" }',
    ]);
    expect(paths({ ...validSpec, sendWindow, recipients: { file: 'a.csv', timeZoneColumn: '' } })[0]).toMatch(/^recipients\.timeZoneColumn: timeZoneColumn must be the name of the column/);
    expect(paths({ ...validSpec, sendWindow, recipients: { file: 'a.csv', timeZoneColumn: 'ppnum' } })).toEqual(['recipients.timeZoneColumn: timeZoneColumn must name a column other than ppnum']);
  });

  it('checks each inline recipient\'s zone by its path, and groups the valid ones into chunks per zone', () => {
    const timeZones = { column: 'tz', fallback: 'Asia/Seoul' };
    const list = [
      { ppnum: '12300000001', vars: { name: 'A', tz: 'Europe/Berlin' } },
      { ppnum: '12300000002', vars: { name: 'B' } },
      { ppnum: '12300000003', vars: { name: 'C', tz: 'Europe/Berlni' } },
      { ppnum: '12300000004', vars: { name: 'D', tz: 'Europe/Berlin' } },
    ];
    const checked = checkInlineRecipients(list, ['name'], { timeZones });
    expect(checked.issues).toEqual([{ index: 2, ppnum: '12300000003', field: 'recipients.inline[2].vars.tz', message: expect.stringContaining('the time zone in "tz" is not an IANA name') }]);
    const chunks = chunkInline(checked.recipients, 1, timeZones);
    expect(chunks.map((c) => [c.timeZone, c.recipients.map((r) => r.ppnum.slice(-1))])).toEqual([
      ['Asia/Seoul', ['2']],
      ['Europe/Berlin', ['1']],
      ['Europe/Berlin', ['4']],
    ]);
    // Without zones: one run of chunks in list order, no zone on them (the plan of every campaign before).
    expect(chunkInline(checked.recipients, 2)).toEqual([
      { kind: 'inline', recipients: [checked.recipients[0], checked.recipients[1]] },
      { kind: 'inline', recipients: [checked.recipients[2]] },
    ]);
  });
});
