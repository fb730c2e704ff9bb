// Vitest sequencer: the files known to take longest start first, so the last files to start are
// short ones and the pass does not end with one long file running alone. Others keep vitest's order.
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Slowest first, as measured in CI (the "slowest test files" report of each pass). */
const LONGEST = [
  'test/e2e/chaos.test.ts',
  'test/e2e/bench.test.ts',
  'test/workflows/campaign.test.ts',
  'test/e2e/fair-share.e2e.test.ts',
  'test/e2e/demo.test.ts',
  'test/e2e/late-consent.e2e.test.ts',
  'test/e2e/first-campaign.e2e.test.ts',
  'test/workflows/scheduling.test.ts',
  'test/e2e/time-zones.e2e.test.ts',
  'test/workflows/chunk.test.ts',
  'test/listener/listener.test.ts',
  'test/e2e/package.test.ts',
  'test/listener/processes.test.ts',
  'test/e2e/bad-credentials.e2e.test.ts',
  'test/e2e/restart-campaign.e2e.test.ts',
  'test/e2e/metrics.e2e.test.ts',
  'test/cli/cli.test.ts',
  'test/cli/cli-follow-ups.test.ts',
  'test/e2e/web-ui.test.ts',
  'test/e2e/campaign.e2e.test.ts',
];

const rank = (spec: TestSpecification): number => {
  const index = LONGEST.findIndex((file) => spec.moduleId.endsWith(file));
  return index === -1 ? LONGEST.length : index;
};

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...(await super.sort(files))].sort((a, b) => rank(a) - rank(b));
  }
}
