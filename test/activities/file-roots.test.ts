// Recipient files are confined to RECIPIENT_FILE_ROOTS, and nothing read from a file is quoted back.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { confineRecipientFile, recipientFileRoots } from '../../activities/file-roots';
import { planRecipients, readChunkRecipients } from '../../activities/recipients';

const base = realpathSync(mkdtempSync(join(tmpdir(), 'file-roots-')));
const root = join(base, 'root');
const outside = join(base, 'outside');
mkdirSync(root);
mkdirSync(outside);
const inside = join(root, 'list.csv');
writeFileSync(inside, 'ppnum,name\n12300000001,Ada\n');
const secret = join(outside, 'secret.csv');
writeFileSync(secret, 'ppnum,name\n12300000009,Secret Person\n');
symlinkSync(secret, join(root, 'link-out.csv'));
symlinkSync(outside, join(root, 'dir-out'));
symlinkSync(inside, join(root, 'link-in.csv'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const input = (file: string) => ({ campaignId: 'c', file, format: 'csv' as const, requiredVars: ['name'], chunkSize: 10, maxIssues: 10 });
const refusal = (path: string) => confineRecipientFile(path, [root]).then(() => undefined, (err: Error & { type?: string; nonRetryable?: boolean }) => err);

describe('confineRecipientFile', () => {
  it('allows files under a root (also through a symlink that stays inside)', async () => {
    expect(await confineRecipientFile(inside, [root])).toBe(inside);
    expect(await confineRecipientFile(join(root, 'link-in.csv'), [root])).toBe(inside);
  });

  it.each([
    ['a file outside the roots', () => secret, 'it is outside the allowed directories'],
    ['a path with ..', () => `${root}/../outside/secret.csv`, 'the path contains ".."'],
    ['a symlink to a file outside', () => join(root, 'link-out.csv'), 'symbolic link (or inside one) that leads outside'],
    ['a file under a symlinked directory outside', () => join(root, 'dir-out', 'secret.csv'), 'symbolic link (or inside one) that leads outside'],
    ['a relative path', () => 'list.csv', 'it is not an absolute path'],
    ['/etc/passwd', () => '/etc/passwd', 'it is outside the allowed directories'],
  ])('refuses %s, naming the rule and the roots', async (_what, path, reason) => {
    const err = await refusal(path());
    expect(err).toMatchObject({ type: 'RecipientFileRefused', nonRetryable: true });
    expect(err!.message).toContain(reason);
    expect(err!.message).toContain(`workers read recipient files only under RECIPIENT_FILE_ROOTS (${root})`);
  });

  it('refuses before touching the file system outside the roots: a missing file there is refused, not "not found"', async () => {
    expect(await refusal(join(outside, 'no-such-file.csv'))).toMatchObject({ type: 'RecipientFileRefused' });
    expect(await refusal(join(root, 'no-such-file.csv'))).toMatchObject({ type: 'RecipientSourceUnreadable', message: expect.stringContaining('(ENOENT)') });
  });

  it('reads RECIPIENT_FILE_ROOTS (":"-separated, absolute) and defaults to the data dir', () => {
    expect(recipientFileRoots({ RECIPIENT_FILE_ROOTS: '/srv/a:/srv/b' })).toEqual(['/srv/a', '/srv/b']);
    expect(recipientFileRoots({})).toEqual([join(process.cwd(), '.data')]);
    expect(() => recipientFileRoots({ RECIPIENT_FILE_ROOTS: 'relative/dir' })).toThrow('must list absolute directories');
  });
});

describe('the recipient activities are confined', () => {
  const withRoots = async <T>(work: () => Promise<T>): Promise<T> => {
    const saved = process.env.RECIPIENT_FILE_ROOTS;
    process.env.RECIPIENT_FILE_ROOTS = root;
    try {
      return await work();
    } finally {
      process.env.RECIPIENT_FILE_ROOTS = saved;
    }
  };

  it('planRecipients and the chunk readers refuse a file outside the roots and quote nothing of it', async () => {
    await withRoots(async () => {
      expect((await planRecipients(input(inside))).valid).toBe(1);
      for (const path of [secret, join(root, 'link-out.csv')]) {
        const err = await planRecipients(input(path)).then(() => undefined, (e: Error) => e);
        expect(err).toMatchObject({ type: 'RecipientFileRefused' });
        expect(err!.message).not.toContain('Secret Person');
        const source = { kind: 'file' as const, path, format: 'csv' as const, byteStart: 0, byteEnd: 100, firstLine: 1, skipLines: [] };
        await expect(readChunkRecipients({ source })).rejects.toMatchObject({ type: 'RecipientFileRefused' });
      }
    });
  });
});

describe('parse errors never quote the file', () => {
  it('names line and field only, for a system file read as NDJSON or CSV', async () => {
    const passwdLike = join(root, 'passwd');
    writeFileSync(passwdLike, 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"q,"x\n12345678901,"a"b\n');
    for (const format of ['ndjson', 'csv'] as const) {
      const plan = await planRecipients({ ...input(passwdLike), format, requiredVars: [] }).catch((err: Error) => err);
      const text = JSON.stringify(plan);
      expect(text).not.toMatch(/root:x|daemon|nologin|bash/);
    }
    const ndjson = await planRecipients({ ...input(passwdLike), format: 'ndjson', requiredVars: [] });
    expect(ndjson.issues[0]).toEqual({ line: 1, field: 'row', message: 'the line is not valid JSON' });
  });

  it('does not quote an invalid ppnum or an odd column name', async () => {
    const file = join(root, 'odd.csv');
    writeFileSync(file, 'ppnum,name,name\nsecret-value-1,x,y\n');
    const header = await planRecipients({ ...input(file), requiredVars: [] });
    expect(header.issues[0]!.message).toBe('the header row names column "name" twice');
    writeFileSync(file, 'ppnum,"root:x:0:0",root:x:0:0\n');
    expect((await planRecipients({ ...input(file), requiredVars: [] })).issues[0]!.message).toBe('the header row names column 3 twice');
    writeFileSync(file, 'ppnum,name\nsecret-value-1,x\n12300000001,a\n12300000001,b\n');
    const rows = await planRecipients({ ...input(file), requiredVars: [] });
    expect(rows.issues).toEqual([
      { line: 2, field: 'ppnum', message: 'ppnum is not valid: it must be 11 or more digits' },
      { line: 4, ppnum: '12300000001', field: 'ppnum', message: 'this ppnum already appears on line 3; only that first row is used' },
    ]);
  });

  it('checks rendered links per row, by line and variable', async () => {
    const file = join(root, 'links.csv');
    writeFileSync(file, 'ppnum,name,link\n12300000001,Ada,https://shop.example/a\n12300000002,Bob,javascript:alert(document.cookie)\n');
    const plan = await planRecipients({ ...input(file), urlTemplates: ['{{link}}'] });
    expect(plan).toMatchObject({ valid: 1, invalidCount: 1 });
    expect(plan.issues).toEqual([{ line: 3, ppnum: '12300000002', field: 'vars.link', message: expect.stringContaining('not an http:// or https:// address') }]);
    expect(JSON.stringify(plan)).not.toContain('javascript');
  });
});
