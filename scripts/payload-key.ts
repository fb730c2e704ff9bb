// `npm run payload-key`: prints a new payload encryption key line, `<id>:<base64 of 32 random bytes>`,
// for PAYLOAD_KEYS or a key file. To rotate: put the new line first and keep the old ones after it.
//
// With PAYLOAD_KEY_FILE (and CODEC_SERVER_TOKEN_FILE) set, it instead creates those files if they
// do not exist yet, owner-readable only, and leaves existing ones alone: docker-compose's one-shot
// `keys` service runs it so a stack gets its own key and codec token on first start.
import { existsSync } from 'node:fs';
import { ensureKeyFile, newPayloadKeyLine } from '../src/temporal/codec';
import { ensureTokenFile } from '../src/temporal/codec-server';

const keyFile = process.env.PAYLOAD_KEY_FILE?.trim();
const tokenFile = process.env.CODEC_SERVER_TOKEN_FILE?.trim();
if (!keyFile && !tokenFile) {
  console.log(newPayloadKeyLine());
} else {
  if (keyFile) console.log(`${keyFile}: ${ensureKeyFile(keyFile) ? 'created with a new key' : 'exists, kept'}`);
  if (tokenFile) {
    const existed = existsSync(tokenFile);
    ensureTokenFile(tokenFile);
    console.log(`${tokenFile}: ${existed ? 'exists, kept' : 'created with a new codec server token'}`);
  }
}
