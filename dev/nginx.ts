// Debian's nginx serving a directory on a loopback port: the web server / object store stand-in
// for URL recipient sources. `/files/…` honours byte-range requests (with ETag and Last-Modified,
// as object stores do); `/no-ranges/…` serves the same files but ignores Range (max_ranges 0), the
// kind of server a URL source must refuse.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports';

export interface Nginx {
  /** http://127.0.0.1:port/files/ — append a file name of the served directory. */
  filesUrl: string;
  /** The same files, Range requests ignored. */
  noRangesUrl: string;
  stop(): Promise<void>;
}

export async function startNginx(options: { root: string; dir: string }): Promise<Nginx> {
  const dir = resolve(options.dir);
  const root = resolve(options.root);
  mkdirSync(join(dir, 'temp'), { recursive: true });
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, config(dir, root, port));
  const errorLog = join(dir, 'error.log');
  const child = spawn(nginxBinary(), ['-p', dir, '-c', conf, '-e', errorLog], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
  const base = `http://127.0.0.1:${port}`;
  await waitUntilServing(child, base, () => `${stderr}${existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : ''}`);
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  return {
    filesUrl: `${base}/files/`,
    noRangesUrl: `${base}/no-ranges/`,
    async stop() {
      process.off('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM'); // nginx: fast shutdown
      await exited;
    },
  };
}

function config(dir: string, root: string, port: number): string {
  // As root, nginx would hand requests to an unprivileged worker that cannot read a private temp dir.
  const user = process.getuid?.() === 0 ? 'user root root;' : '';
  return `${user}
daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 256; }
http {
  access_log ${join(dir, 'access.log')};
  client_body_temp_path ${join(dir, 'temp')};
  proxy_temp_path ${join(dir, 'temp')};
  fastcgi_temp_path ${join(dir, 'temp')};
  uwsgi_temp_path ${join(dir, 'temp')};
  scgi_temp_path ${join(dir, 'temp')};
  types { text/csv csv; application/x-ndjson ndjson jsonl; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    location = / { return 204; }
    location /files/ { alias ${root}/; }
    location /no-ranges/ { alias ${root}/; max_ranges 0; }
  }
}
`;
}

function nginxBinary(): string {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin']) {
    if (dir && existsSync(join(dir, 'nginx'))) return join(dir, 'nginx');
  }
  throw new Error('nginx not found: install nginx-light (scripts/system-deps.sh)');
}

async function waitUntilServing(child: ChildProcess, base: string, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`nginx exited (${child.exitCode ?? child.signalCode}):\n${log()}`);
    const answered = await fetch(base, { signal: AbortSignal.timeout(1_000) }).then((r) => r.status === 204, () => false);
    if (answered) return;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not answer on ${base} within 15 s:\n${log()}`);
    }
    await sleep(100);
  }
}
