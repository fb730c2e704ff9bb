// ExternalTemplateService: create/get/list, uniqueness, component validation, deactivation.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemplateComponentType as T, type Template } from '../../src/api/gen/ppoppo/external/v1/external';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server';
import { connect, failure, freshPpnum, inspect, rpc, text, tokenFor, uniqueName, type Clients } from './helpers';

let sandbox: RunningSandbox;
let clients: Clients;
let token: string;

const create = (name: string, components: object[]) => rpc<{ template: Template }>(clients.template, 'createTemplate', { name, components }, token);
const component = (type: T, fields: object = {}) => ({ componentType: type, options: [], ...fields });

beforeAll(async () => {
  sandbox = await startSandbox({
    apps: [
      { clientId: 'sandbox-client', clientSecret: 'sandbox-secret', appId: 'app_a', scopes: ['messaging'] },
      { clientId: 'other', clientSecret: 'other-secret', appId: 'app_b', scopes: ['messaging'] },
    ],
  });
  clients = connect(sandbox);
  token = await tokenFor(sandbox);
});

afterAll(async () => {
  clients?.close();
  await sandbox?.close();
});

describe('templates', () => {
  it('creates a template with a tpl_ ULID id, version 1, active, and gets it back', async () => {
    const components = [text('Hi {{name}}'), component(T.TEMPLATE_COMPONENT_TYPE_DIVIDER), component(T.TEMPLATE_COMPONENT_TYPE_BUTTON, { label: 'Go', url: 'https://x.test' })];
    const { template } = await create(uniqueName('welcome'), components);
    expect(template.id).toMatch(/^tpl_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(template).toMatchObject({ version: 1, isActive: true, components });
    expect((await rpc<{ template: Template }>(clients.template, 'getTemplate', { id: template.id }, token)).template).toEqual(template);
  });

  it('a repeated name in the same app is ALREADY_EXISTS; another app may use it', async () => {
    const name = uniqueName('dup');
    await create(name, [text('a')]);
    const err = await failure(create(name, [text('b')]));
    expect(err.code).toBe(status.ALREADY_EXISTS);
    expect(err.details).toBe('Template name already taken');
    const other = await tokenFor(sandbox, { client_id: 'other', client_secret: 'other-secret' });
    await rpc(clients.template, 'createTemplate', { name, components: [text('c')] }, other);
  });

  it.each([
    [[], 'components must not be empty'],
    [[text('ok'), component(T.TEMPLATE_COMPONENT_TYPE_TEXT)], 'components[1].content is required for TEXT'],
    [[text('a'), text('b'), component(T.TEMPLATE_COMPONENT_TYPE_BUTTON, { label: 'Go' })], 'components[2].url is required for BUTTON'],
    [[component(T.TEMPLATE_COMPONENT_TYPE_BUTTON, { url: 'https://x' })], 'components[0].label is required for BUTTON'],
    [[component(T.TEMPLATE_COMPONENT_TYPE_IMAGE, { alt: 'x' })], 'components[0].url is required for IMAGE'],
    [[component(T.TEMPLATE_COMPONENT_TYPE_POLL, { options: ['a', 'b'] })], 'components[0].question is required for POLL'],
    [[component(T.TEMPLATE_COMPONENT_TYPE_POLL, { question: 'q?', options: ['only'] })], 'components[0].options needs at least 2 non-empty options for POLL'],
    [[component(T.TEMPLATE_COMPONENT_TYPE_UNSPECIFIED)], 'components[0].component_type is required'],
  ])('rejects bad components with INVALID_ARGUMENT naming the field (%#)', async (components, message) => {
    const err = await failure(create(uniqueName('bad'), components));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe(message);
  });

  it('an unknown id, or another app’s template, is NOT_FOUND "Template not found"', async () => {
    const { template } = await create(uniqueName('mine'), [text('x')]);
    const other = await tokenFor(sandbox, { client_id: 'other', client_secret: 'other-secret' });
    for (const [id, t] of [['tpl_01ZZZZZZZZZZZZZZZZZZZZZZZZ', token], [template.id, other]] as const) {
      const err = await failure(rpc(clients.template, 'getTemplate', { id }, t));
      expect(err.code).toBe(status.NOT_FOUND);
      expect(err.details).toBe('Template not found');
    }
  });

  it('lists an app’s templates in pages with limit, cursor and has_more', async () => {
    const other = await tokenFor(sandbox, { client_id: 'other', client_secret: 'other-secret' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await rpc<{ template: Template }>(clients.template, 'createTemplate', { name: `page-${i}`, components: [text('x')] }, other)).template.id);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let round = 0; round < 10; round++) {
      const page = await rpc<{ templates: Template[]; hasMore: boolean; nextCursor?: string }>(clients.template, 'listTemplates', { limit: 2, cursor }, other);
      seen.push(...page.templates.map((t) => t.id));
      expect(page.templates.length).toBeLessThanOrEqual(2);
      if (!page.hasMore) break;
      cursor = page.nextCursor;
    }
    // app_b also holds the template named in the ALREADY_EXISTS test, if it ran first.
    expect(seen.filter((id) => ids.includes(id))).toEqual(ids);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('a deactivated template refuses sends with FAILED_PRECONDITION "Template inactive"', async () => {
    const { template } = await create(uniqueName('inactive'), [text('x')]);
    await inspect(sandbox, `/inspect/templates/${template.id}/deactivate`, {});
    expect((await rpc<{ template: Template }>(clients.template, 'getTemplate', { id: template.id }, token)).template.isActive).toBe(false);
    const err = await failure(rpc(clients.message, 'createSendRequest', { templateId: template.id, recipients: [{ ppnum: freshPpnum() }] }, token));
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toBe('Template inactive');
  });
});
