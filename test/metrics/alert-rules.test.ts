// The shipped alert rules (deploy/prometheus/alerts.yml), checked by Prometheus's own tool: they
// parse (`promtool check rules`), they fire and stay quiet where they should (`promtool test rules`
// on alerts.test.yml), and every metric they read is one the worker or listener exports.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { METRICS, scrapedName } from '../../src/contracts/metrics';

const RULES = fileURLToPath(new URL('../../deploy/prometheus/alerts.yml', import.meta.url));
const RULE_TESTS = fileURLToPath(new URL('../../deploy/prometheus/alerts.test.yml', import.meta.url));

async function promtool(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('promtool', args);
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const failure = err as { code?: number | string; stdout?: string; stderr?: string };
    if (failure.code === 'ENOENT') throw new Error('promtool not found: apt-get install prometheus (scripts/system-deps.sh)');
    return { code: Number(failure.code ?? 1), output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
  }
}

describe('deploy/prometheus/alerts.yml', () => {
  it('passes promtool check rules', async () => {
    const { code, output } = await promtool('check', 'rules', RULES);
    expect(code, output).toBe(0);
    expect(output).toContain('SUCCESS: 5 rules found');
  });

  it('fires and stays quiet as its unit tests expect (promtool test rules)', async () => {
    const { code, output } = await promtool('test', 'rules', RULE_TESTS);
    expect(code, output).toBe(0);
    expect(output).toContain('SUCCESS');
  });

  it('reads only metrics the worker and listener export', () => {
    const { groups } = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const ours = new Set(Object.values(METRICS).flatMap((metric) => [scrapedName(metric), `${metric.name}_count`, `${metric.name}_sum`]));
    const used = groups.flatMap((group) => group.rules).flatMap((rule) => [...rule.expr.matchAll(/\bppoppo_[a-z_]+/g)].map((m) => `${rule.alert}: ${m[0]}`));
    expect(used.length).toBeGreaterThan(4);
    expect(used.filter((entry) => !ours.has(entry.split(': ')[1]!))).toEqual([]);
  });
});
