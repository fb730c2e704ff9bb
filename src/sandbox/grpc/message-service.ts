// ExternalMessageService. GrantConsent / DenyConsent record a recipient's decision for an app: the
// app's messages waiting for that recipient's consent are decided at once, and later sends follow
// it (granted → delivered directly, denied → CONSENT_DENIED at once). The real `ppnum_id` is an
// opaque id the sandbox does not have: it takes the ppnum itself there.
import {
  SendRequestStatus,
  type ConsentReq,
  type ConsentResp,
  type CreateSendRequestReq,
  type CreateSendRequestResp,
  type GetProcessingStatsReq,
  type GetProcessingStatsResp,
  type GetSendRequestStatusReq,
  type GetSendRequestStatusResp,
  type SendRequestEvent,
  type StreamSendRequestEventsReq,
} from '../../api/gen/ppoppo/external/v1/external';
import type { DeliveryEngine } from '../engine';
import { recipientStatus, requestSummary } from '../events';
import { invalid, notFound, RpcError } from '../rpc-error';
import { PPNUM } from '../sending';
import type { SendRequests } from '../sending';
import type { Store } from '../store';
import { status } from '@grpc/grpc-js';
import { serverStream, unary, type CallAuth, type Report } from './calls';
import type { EventStreams } from './event-streams';

export function messageService(auth: CallAuth, report: Report, store: Store, sends: SendRequests, streams: EventStreams, engine: DeliveryEngine) {
  /** The app and ppnum a ConsentReq names: only the calling app's own consent can be set. */
  const consentFor = (appId: string, req: ConsentReq) => {
    if (!req.appId) throw invalid('app_id is required');
    if (req.appId !== appId) throw new RpcError(status.PERMISSION_DENIED, 'app_id is not the calling app');
    if (!PPNUM.test(req.ppnumId)) throw invalid('ppnum_id is invalid (the sandbox takes the ppnum: 11 or more digits)');
    return req.ppnumId;
  };

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

    grantConsent: unary<ConsentReq, ConsentResp>(auth, report, (app, req) => {
      engine.decideNow(app.appId, consentFor(app.appId, req), 'granted');
      return { success: true };
    }),

    denyConsent: unary<ConsentReq, ConsentResp>(auth, report, (app, req) => {
      engine.decideNow(app.appId, consentFor(app.appId, req), 'denied');
      return { success: true };
    }),

    streamSendRequestEvents: serverStream<StreamSendRequestEventsReq, SendRequestEvent>(auth, report, (app, call) => streams.serve(app.appId, call)),
  };
}
