// Prints a new payload encryption key line, `<id>:<base64 of 32 random bytes>`, for PAYLOAD_KEYS or
// a PAYLOAD_KEY_FILE. To rotate: put the new line first and keep the old ones after it.
import { newPayloadKeyLine } from '../src/temporal/codec';

console.log(newPayloadKeyLine());
