// Generates the TypeScript API bindings from proto/ with the npm-shipped protoc and ts-proto.
// `--check` regenerates into a scratch directory and fails if src/api/gen differs (stale code).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const outDir = join(root, 'src/api/gen');
const check = process.argv.includes('--check');
const target = check ? mkdtempSync(join(tmpdir(), 'proto-')) : outDir;

const protoc = join(root, 'node_modules/protoc/protoc.cjs');
const plugin = join(root, 'node_modules/.bin/protoc-gen-ts_proto');
const options = [
  'outputServices=grpc-js',
  'env=node',
  'esModuleInterop=true',
  'useOptionals=messages',
  'useDate=true',
  'oneof=unions-value',
  'outputClientImpl=false',
].join(',');

if (!check) rmSync(outDir, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
execFileSync(process.execPath, [
  protoc,
  `--plugin=protoc-gen-ts_proto=${plugin}`,
  `--ts_proto_out=${target}`,
  `--ts_proto_opt=${options}`,
  `--proto_path=${join(root, 'proto')}`,
  'ppoppo/external/v1/external.proto',
], { stdio: 'inherit' });

if (check) {
  const list = (dir) => readdirSync(dir, { recursive: true })
    .map(String).filter((f) => statSync(join(dir, f)).isFile()).sort();
  const fresh = list(target);
  let current = [];
  try { current = list(outDir); } catch { /* missing directory counts as stale */ }
  const stale = fresh.filter((f) => !current.includes(f) ||
    readFileSync(join(target, f), 'utf8') !== readFileSync(join(outDir, f), 'utf8'));
  const extra = current.filter((f) => !fresh.includes(f));
  rmSync(target, { recursive: true, force: true });
  if (stale.length || extra.length) {
    console.error(`generated code in ${relative(root, outDir)} is stale (${[...stale, ...extra].join(', ')}): run npm run proto`);
    process.exit(1);
  }
  console.log('generated proto code is up to date');
}
