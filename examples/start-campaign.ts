// Example: start a campaign from app code with CampaignClient, follow its progress, print the result.
//
//   TEMPORAL_ADDRESS=127.0.0.1:7233 npx tsx examples/start-campaign.ts [campaignId]
//
// Needs a running worker and listener (`npm start`). CAMPAIGN_TASK_QUEUE / CAMPAIGN_SEND_TASK_QUEUE
// point it at non-default queues (tests). Prints the CampaignResult as JSON on the last line.
import { CampaignClient } from '../src/client/campaigns';
import { connectClient } from '../src/temporal/config';

const campaignId = process.argv[2] ?? `example-${Date.now()}`;
const client = await connectClient(); // TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, ...
try {
  const campaigns = new CampaignClient(client, {
    taskQueue: process.env.CAMPAIGN_TASK_QUEUE,
    sendTaskQueue: process.env.CAMPAIGN_SEND_TASK_QUEUE,
  });
  const started = await campaigns.startCampaign({
    campaignId,
    template: { name: 'example-welcome', components: [{ type: 'text', content: 'Hello {{name}}' }] },
    recipients: {
      inline: [
        { ppnum: '12300000001', vars: { name: 'Ada' } },
        { ppnum: '12300000004', vars: { name: 'Grace' } },
      ],
    },
    consentWindow: '1m',
  });
  console.error(`started ${started.workflowId} (run ${started.runId})`);
  const progress = await campaigns.getProgress(campaignId);
  console.error(`status: ${progress.status}, ${progress.total} recipients`);
  const result = await campaigns.result(campaignId);
  for await (const record of campaigns.recipients(campaignId)) console.error(`${record.ppnum}: ${record.state}`);
  console.log(JSON.stringify(result));
} finally {
  await client.connection.close();
}
