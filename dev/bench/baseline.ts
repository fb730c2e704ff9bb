// The benchmark's baseline: what a plain script without durability does. It reads the same recipients
// file, sends chunks of 1,000 with the same API client and bounded concurrency, and on
// RESOURCE_EXHAUSTED waits exactly the server's retry-after-ms. Any other error ends the run (no
// reconciliation, no resume). It runs in the bench process against its own fresh sandbox process.
import { setTimeout as sleep } from 'node:timers/promises';
import { PpoppoClient } from '../../src/api/client';
import { makeClientConfig } from '../../src/api/config';
import { ResourceExhaustedError } from '../../src/api/errors';
import type { RecipientInput, TemplateComponentSpec } from '../../src/api/types';
import { SandboxInspector } from '../sandbox/inspector';
import { DEFAULT_APP } from '../../src/sandbox/options';
import { parseCsvHeader, parseCsvRecord, readRecords } from '../../activities/recipient-file';
import { cpuSeconds } from './measure';
import type { ManagedProcess } from '../stack/managed-process';
import { startSandboxProcess } from '../stack/start-stack';

export interface BaselineOptions {
  dir: string;
  /** `npm run sandbox` flags (without db and ports), the same the orchestrator's sandbox got. */
  sandboxFlags: Record<string, string>;
  file: string;
  template: { name: string; components: TemplateComponentSpec[] };
  concurrency: number;
  chunkSize?: number;
}

export interface BaselineRun {
  /** Wall time from the first chunk taken to the last request accepted. */
  seconds: number;
  /** The script's own start time of each chunk, by the send request it ended with. */
  chunkStarts: Map<string, number>;
  /** RESOURCE_EXHAUSTED answers the script received (and waited out). */
  refusals: number;
  /** CPU seconds of the script (this process) and of its sandbox while sending. */
  cpuSeconds: { script: number; sandbox: number };
  sandbox: ManagedProcess;
  inspector: SandboxInspector;
  stop(): Promise<void>;
}

/** Chunks of the recipients file, read as a stream (the same CSV reader the campaign uses). */
async function* fileChunks(file: string, size: number): AsyncGenerator<RecipientInput[]> {
  let header: { columns: string[]; ppnumIndex: number } | undefined;
  let chunk: RecipientInput[] = [];
  for await (const batch of readRecords(file, 'csv')) {
    for (const record of batch) {
      if (record.text.trim() === '') continue;
      if (!header) {
        const parsed = parseCsvHeader(record.text, []);
        if ('error' in parsed) throw new Error(`${file}: ${parsed.error}`);
        header = parsed;
        continue;
      }
      const parsed = parseCsvRecord(record.text, header, []);
      if (!parsed.ok) throw new Error(`${file} line ${record.line}: ${parsed.message}`);
      chunk.push(parsed.recipient);
      if (chunk.length === size) {
        yield chunk;
        chunk = [];
      }
    }
  }
  if (chunk.length > 0) yield chunk;
}

export async function runBaseline(options: BaselineOptions): Promise<BaselineRun> {
  const { sandbox, grpcPort, httpPort, inspectToken } = await startSandboxProcess(options.dir, 'baseline-sandbox', options.sandboxFlags);
  const client = new PpoppoClient(
    makeClientConfig({ apiUrl: `http://127.0.0.1:${grpcPort}`, tokenUrl: `http://127.0.0.1:${httpPort}/oauth/token`, clientId: DEFAULT_APP.clientId, clientSecret: DEFAULT_APP.clientSecret }),
  );
  const stop = async () => {
    client.close();
    await sandbox.kill();
  };
  try {
    const { id: templateId } = await client.createTemplate(options.template);
    const chunks = fileChunks(options.file, options.chunkSize ?? 1000);
    const chunkStarts = new Map<string, number>();
    let refusals = 0;
    let lastAccepted = 0;
    const started = Date.now();
    const cpuBefore = { script: process.cpuUsage(), sandbox: cpuSeconds(sandbox.pid) };
    // Each sender takes the next chunk and sends it until it is accepted; the generator is shared.
    const sender = async () => {
      for (;;) {
        const next = await chunks.next();
        if (next.done) return;
        const chunkStarted = Date.now();
        for (;;) {
          try {
            const receipt = await client.createSendRequest({ templateId, recipients: next.value });
            chunkStarts.set(receipt.sendRequestId, chunkStarted);
            lastAccepted = Date.now();
            break;
          } catch (err) {
            if (!(err instanceof ResourceExhaustedError)) throw err;
            refusals++;
            await sleep(err.retryAfterMs ?? 1000);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, sender));
    const script = process.cpuUsage(cpuBefore.script);
    const cpu = { script: (script.user + script.system) / 1e6, sandbox: cpuSeconds(sandbox.pid) - cpuBefore.sandbox };
    return { seconds: (lastAccepted - started) / 1000, chunkStarts, refusals, cpuSeconds: cpu, sandbox, inspector: new SandboxInspector(`http://127.0.0.1:${httpPort}`, inspectToken), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
