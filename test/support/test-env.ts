// The environment every test run starts from, set by both global setups (test/global-setup.ts and
// the production lane's) before any test fork starts, so forks and the processes they start inherit
// it. Payload encryption is on, as in production: one fresh key per run in PAYLOAD_KEYS, unless the
// environment brings its own. Workers read recipient files only under RECIPIENT_FILE_ROOTS: tests
// write theirs to the system's temp dir, so that is the root (test/activities/file-roots.test.ts
// checks the confinement itself). Recipient URLs may point at private or loopback hosts only when
// RECIPIENT_URL_ALLOWED_HOSTS lists them: the tests' web servers run on 127.0.0.1
// (test/activities/url-source.test.ts checks the refusal).
import { tmpdir } from 'node:os';
import { newPayloadKeyLine } from '../../src/temporal/codec';

export function prepareTestEnvironment(): void {
  if (!process.env.PAYLOAD_KEYS && !process.env.PAYLOAD_KEY_FILE) process.env.PAYLOAD_KEYS = newPayloadKeyLine();
  process.env.RECIPIENT_FILE_ROOTS ??= tmpdir();
  process.env.RECIPIENT_URL_ALLOWED_HOSTS ??= '127.0.0.1';
}
