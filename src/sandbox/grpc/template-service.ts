// ExternalTemplateService: templates are per app; ids are `tpl_` + ULID; list pages by id.
import { status } from '@grpc/grpc-js';
import { monotonicFactory } from 'ulid';
import type {
  CreateTemplateReq,
  CreateTemplateResp,
  GetTemplateReq,
  GetTemplateResp,
  ListTemplatesReq,
  ListTemplatesResp,
  Template,
  TemplateComponent,
} from '../../api/gen/ppoppo/external/v1/external';
import { invalid, notFound, RpcError } from '../rpc-error';
import type { Store, TemplateRow } from '../store';
import { componentProblem } from '../templates';
import { unary, type CallAuth, type Report } from './calls';

const DEFAULT_PAGE = 20;
const MAX_PAGE = 100;

export function toTemplate(row: TemplateRow): Template {
  return {
    id: row.id,
    name: row.name,
    description: row.description ?? undefined,
    components: JSON.parse(row.components) as TemplateComponent[],
    isActive: row.is_active === 1,
    version: row.version,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}

export function templateService(auth: CallAuth, report: Report, store: Store) {
  const newId = monotonicFactory();
  return {
    createTemplate: unary<CreateTemplateReq, CreateTemplateResp>(auth, report, (app, req) => {
      if (!req.name.trim()) throw invalid('name is required');
      const problem = componentProblem(req.components);
      if (problem) throw invalid(problem);
      if (store.templateByName(app.appId, req.name)) throw new RpcError(status.ALREADY_EXISTS, 'Template name already taken');
      const now = Date.now();
      const components = req.components.map((c) => ({ ...c, options: [...c.options] }));
      const row: TemplateRow = {
        id: `tpl_${newId(now)}`,
        app_id: app.appId,
        name: req.name,
        description: req.description ?? null,
        components: JSON.stringify(components),
        is_active: 1,
        version: 1,
        created_at: now,
        updated_at: now,
      };
      store.insertTemplate(row);
      return { template: toTemplate(row) };
    }),

    getTemplate: unary<GetTemplateReq, GetTemplateResp>(auth, report, (app, req) => {
      const row = store.template(req.id);
      if (!row || row.app_id !== app.appId) throw notFound('Template not found');
      return { template: toTemplate(row) };
    }),

    listTemplates: unary<ListTemplatesReq, ListTemplatesResp>(auth, report, (app, req) => {
      if (req.limit !== undefined && req.limit < 0) throw invalid('limit must not be negative');
      const limit = Math.min(MAX_PAGE, req.limit || DEFAULT_PAGE);
      const rows = store.templatesAfter(app.appId, req.cursor ?? '', limit + 1);
      const hasMore = rows.length > limit;
      const page = rows.slice(0, limit);
      return { templates: page.map(toTemplate), hasMore, nextCursor: hasMore ? page.at(-1)!.id : undefined };
    }),
  };
}
