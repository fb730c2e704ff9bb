// ExternalAppService: usage and app stats, poll results. The app-management and admin RPCs are
// left out (grpc-js answers UNIMPLEMENTED). A poll's id is the id of the send request that carried
// the poll template (the sandbox's choice; the real API does not say).
import {
  AppTier,
  type GetAppStatsReq,
  type GetAppStatsResp,
  type GetPollResultsReq,
  type GetPollResultsResp,
  type GetUsageStatsReq,
  type GetUsageStatsResp,
  type ListPollResponsesReq,
  type ListPollResponsesResp,
  type TemplateComponent,
} from '../../api/gen/ppoppo/external/v1/external';
import { monthKey, nextMonthStart } from '../limits';
import type { RuntimeConfig } from '../options';
import { invalid, notFound } from '../rpc-error';
import type { Store } from '../store';
import { pollOf } from '../templates';
import { unary, type CallAuth, type Report } from './calls';

const SYSTEM_PPNUM = '10000000000';
const DEFAULT_PAGE = 50;
const MAX_PAGE = 1000;

export function appService(auth: CallAuth, report: Report, store: Store, config: RuntimeConfig) {
  /** The poll component of the send request `pollId` of this app, or NOT_FOUND. */
  const pollFor = (appId: string, pollId: string): TemplateComponent => {
    const request = store.request(pollId);
    const template = request && request.app_id === appId ? store.template(request.template_id) : undefined;
    const poll = template && pollOf(JSON.parse(template.components) as TemplateComponent[]);
    if (!poll) throw notFound('Poll not found');
    return poll;
  };

  return {
    getUsageStats: unary<GetUsageStatsReq, GetUsageStatsResp>(auth, report, (app) => {
      const used = store.quotaUsed(app.appId, monthKey());
      const limit = config.monthlyQuota ?? undefined;
      return {
        appId: app.appId,
        tier: AppTier.APP_TIER_PRO,
        monthlyMessageLimit: limit,
        currentMonthUsage: used,
        remainingQuota: limit === undefined ? undefined : Math.max(0, limit - used),
        usageResetAt: new Date(nextMonthStart()),
        rateLimitPerMin: config.rateLimit ? Math.round(config.rateLimit.requestsPerSecond * 60) : 0,
        systemPpnum: SYSTEM_PPNUM,
      };
    }),

    getAppStats: unary<GetAppStatsReq, GetAppStatsResp>(auth, report, (app) => ({
      totalMessagesSent: store.deliveredCount(app.appId),
      totalTemplates: store.countTemplates(app.appId),
      activeRecipients: store.activeRecipients(app.appId),
    })),

    getPollResults: unary<GetPollResultsReq, GetPollResultsResp>(auth, report, (app, req) => {
      const poll = pollFor(app.appId, req.pollId);
      const counts = store.pollCounts(req.pollId);
      const total = [...counts.values()].reduce((a, b) => a + b, 0);
      return {
        pollId: req.pollId,
        question: poll.question ?? '',
        results: poll.options.map((option, i) => {
          const count = counts.get(i) ?? 0;
          return { optionText: option, count, percentage: total === 0 ? 0 : (count / total) * 100 };
        }),
        totalResponses: total,
      };
    }),

    listPollResponses: unary<ListPollResponsesReq, ListPollResponsesResp>(auth, report, (app, req) => {
      pollFor(app.appId, req.pollId);
      if (req.limit !== undefined && req.limit < 0) throw invalid('limit must not be negative');
      const limit = Math.min(MAX_PAGE, req.limit || DEFAULT_PAGE);
      const rows = store.pollResponsesAfter(req.pollId, req.cursor ?? '', limit + 1);
      const hasMore = rows.length > limit;
      const page = rows.slice(0, limit);
      return {
        responses: page.map((r) => ({ responderPpnum: r.ppnum, selectedOption: r.option_text, respondedAt: new Date(r.responded_at) })),
        hasMore,
        nextCursor: hasMore ? page.at(-1)!.ppnum : undefined,
      };
    }),
  };
}
