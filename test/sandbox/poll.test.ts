// Poll templates: delivered recipients answer (POLL_RESPONSE_RECEIVED), and GetPollResults /
// ListPollResponses (poll_id = the send request id) report the same answers.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SendRequestEventType as E,
  TemplateComponentType as T,
  type CreateSendRequestResp,
  type GetPollResultsResp,
  type ListPollResponsesResp,
  type Template,
} from '../../src/api/gen/ppoppo/external/v1/external';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server';
import { connect, failure, freshPpnum, readUntil, rpc, text, tokenFor, type Clients } from './helpers';

let sandbox: RunningSandbox;
let clients: Clients;
let token: string;

beforeAll(async () => {
  // No consent expiry in the mix: with the default 24 h window such a request would never complete.
  sandbox = await startSandbox({ pollResponseDelayMs: 20, consentDecisionDelayMs: 50, streamMaxEvents: 0, streamMaxMs: 0, outcomeMix: { delivered: 1, consentGranted: 1, consentDenied: 1 } });
  clients = connect(sandbox);
  token = await tokenFor(sandbox);
});

afterAll(async () => {
  clients?.close();
  await sandbox?.close();
});

describe('polls', () => {
  it('delivered recipients answer; results and the response list agree with the events', async () => {
    const options = ['Red', 'Green', 'Blue'];
    const poll = { componentType: T.TEMPLATE_COMPONENT_TYPE_POLL, question: 'Favourite colour?', options };
    const templateId = (await rpc<{ template: Template }>(clients.template, 'createTemplate', { name: 'poll', components: [text('Vote!'), poll] }, token)).template.id;
    const ppnums = ['12300000001', '12300000004', ...Array.from({ length: 8 }, () => freshPpnum())];
    const receipt = await rpc<CreateSendRequestResp>(clients.message, 'createSendRequest', { templateId, recipients: ppnums.map((ppnum) => ({ ppnum })) }, token);

    const events = await readUntil(clients.message, { sendRequestId: receipt.id }, token, (seen) => {
      const delivered = seen.filter((e) => e.eventType === E.RECIPIENT_DELIVERED).length;
      const answered = seen.filter((e) => e.eventType === E.POLL_RESPONSE_RECEIVED).length;
      return seen.some((e) => e.eventType === E.REQUEST_COMPLETED) && delivered === answered;
    });
    const answered = events.filter((e) => e.eventType === E.POLL_RESPONSE_RECEIVED).map((e) => e.recipient!.ppnum);
    expect(answered).toContain('12300000001');
    expect(answered).not.toContain('12300000004'); // failed deliveries cannot answer

    const results = await rpc<GetPollResultsResp>(clients.app, 'getPollResults', { pollId: receipt.id }, token);
    expect(results).toMatchObject({ pollId: receipt.id, question: 'Favourite colour?', totalResponses: answered.length });
    expect(results.results.map((r) => r.optionText)).toEqual(options);
    expect(results.results.reduce((sum, r) => sum + r.count, 0)).toBe(answered.length);
    expect(results.results.reduce((sum, r) => sum + r.percentage, 0)).toBeCloseTo(100);

    const listed: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const response = await rpc<ListPollResponsesResp>(clients.app, 'listPollResponses', { pollId: receipt.id, limit: 3, cursor }, token);
      for (const r of response.responses) {
        expect(options).toContain(r.selectedOption);
        listed.push(r.responderPpnum);
      }
      if (!response.hasMore) break;
      cursor = response.nextCursor;
    }
    expect([...listed].sort()).toEqual([...answered].sort());
  });

  it('a send request without a poll is NOT_FOUND as a poll', async () => {
    const templateId = (await rpc<{ template: Template }>(clients.template, 'createTemplate', { name: 'plain', components: [text('x')] }, token)).template.id;
    const receipt = await rpc<CreateSendRequestResp>(clients.message, 'createSendRequest', { templateId, recipients: [{ ppnum: freshPpnum() }] }, token);
    expect((await failure(rpc(clients.app, 'getPollResults', { pollId: receipt.id }, token))).code).toBe(status.NOT_FOUND);
  });
});
