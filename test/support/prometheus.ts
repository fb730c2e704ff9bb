// A real Prometheus (Debian's `prometheus` package, installed by scripts/system-deps.sh) on a scratch
// data directory, scraping the given targets every second, and its HTTP query API.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../dev/ports';

export interface Prometheus {
  url: string;
  /** Instant query; the result's samples as label sets with their value. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  /** Loaded alerting rules: health of their last evaluation ('ok' / 'err' / 'unknown') and state ('inactive' / 'pending' / 'firing'). */
  rules(): Promise<{ name: string; health: string; lastError: string; state: string }[]>;
  /** Scrape targets by job with their health ('up' / 'down' / 'unknown') and last error. */
  targets(): Promise<{ job: string; health: string; lastError: string }[]>;
  stop(): Promise<void>;
}

export async function startPrometheus(dir: string, jobs: Record<string, string[]>, options: { ruleFiles?: string[] } = {}): Promise<Prometheus> {
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    ...(options.ruleFiles?.length ? ['rule_files:', ...options.ruleFiles.map((file) => `  - ${JSON.stringify(file)}`)] : []),
    'scrape_configs:',
    ...Object.entries(jobs).flatMap(([job, targets]) => [`  - job_name: ${JSON.stringify(job)}`, '    static_configs:', `      - targets: ${JSON.stringify(targets)}`]),
  ].join('\n');
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, `${config}\n`);
  const log = openSync(join(dir, 'prometheus.log'), 'a');
  const child: ChildProcess = spawn('prometheus', [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'prometheus-data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', log, log] });
  closeSync(log);
  const url = `http://127.0.0.1:${port}`;
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error ?? response.status}`);
    return body.data;
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}; see ${join(dir, 'prometheus.log')}`);
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`prometheus was not ready in 30 s; see ${join(dir, 'prometheus.log')}`);
    await sleep(200);
  }
  return {
    url,
    async query(promql) {
      const data = await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`);
      return data.result.map((sample) => ({ metric: sample.metric, value: Number(sample.value[1]) }));
    },
    async rules() {
      const data = await api<{ groups: { rules: { name: string; health: string; lastError?: string; state?: string; type: string }[] }[] }>('/api/v1/rules');
      return data.groups.flatMap((group) => group.rules).filter((rule) => rule.type === 'alerting').map((rule) => ({ name: rule.name, health: rule.health, lastError: rule.lastError ?? '', state: rule.state ?? '' }));
    },
    async targets() {
      const data = await api<{ activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] }>('/api/v1/targets');
      return data.activeTargets.map((target) => ({ job: target.labels.job ?? '', health: target.health, lastError: target.lastError }));
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
