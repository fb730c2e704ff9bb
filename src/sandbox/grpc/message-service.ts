// ExternalMessageService. GrantConsent / DenyConsent are left out: grpc-js answers UNIMPLEMENTED.
import {
  SendRequestStatus,
  type CreateSendRequestReq,
  type CreateSendRequestResp,
  type GetProcessingStatsReq,
  type GetProcessingStatsResp,
  type GetSendRequestStatusReq,
  type GetSendRequestStatusResp,
  type SendRequestEvent,
  type StreamSendRequestEventsReq,
} from '../../api/gen/ppoppo/external/v1/external';
import { recipientStatus, requestSummary } from '../events';
import { notFound } from '../rpc-error';
import type { SendRequests } from '../sending';
import type { Store } from '../store';
import { serverStream, unary, type CallAuth, type Report } from './calls';
import type { EventStreams } from './event-streams';

export function messageService(auth: CallAuth, report: Report, store: Store, sends: SendRequests, streams: EventStreams) {
  return {
    createSendRequest: unary<CreateSendRequestReq, CreateSendRequestResp>(auth, report, (app, req) => sends.create(app.appId, req)),

    getSendRequestStatus: unary<GetSendRequestStatusReq, GetSendRequestStatusResp>(auth, report, (app, req) => {
      const request = store.request(req.id);
      if (!request || request.app_id !== app.appId) throw notFound('Send request not found');
      return { request: requestSummary(request), recipients: store.messagesOf(request.id).map(recipientStatus) };
    }),

    getProcessingStats: unary<GetProcessingStatsReq, GetProcessingStatsResp>(auth, report, (app) => {
      const byStatus = store.requestCountsByStatus(app.appId);
      const today = new Date();
      today.setUTCHours(0, 0, 0, 0);
      return {
        queued: byStatus.get(SendRequestStatus.SEND_REQUEST_STATUS_QUEUED) ?? 0,
        processing: byStatus.get(SendRequestStatus.SEND_REQUEST_STATUS_PROCESSING) ?? 0,
        completedToday: store.completedSince(app.appId, today.getTime()),
        failedToday: 0, // the sandbox never fails a whole send request
      };
    }),

    streamSendRequestEvents: serverStream<StreamSendRequestEventsReq, SendRequestEvent>(auth, report, (app, call) => streams.serve(app.appId, call)),
  };
}
