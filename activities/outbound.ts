// Where a spec may make a worker connect, as the worker's operator allows, never the spec alone:
// fallbacks (FALLBACK_ALLOWED_HOSTS) and recipient URLs (RECIPIENT_URL_ALLOWED_HOSTS).
//
//   FALLBACK_ALLOWED_HOSTS=hooks.example.com,*.partner.example:443,smtp.example.com:587,127.0.0.1:9000
//
// Unset: any host whose addresses are public. Set: only the hosts listed (`host`: any port,
// `host:port`: that port; `*.domain`: its subdomains). Private, loopback, link-local and other
// non-public addresses (literal or resolved) are refused unless an entry names that exact host
// (not a wildcard). The check runs when a campaign is prepared and again at every connection: the
// webhook connects only to an address the check passed (no DNS rebinding in between), follows no
// redirect, and SMTP connects to the checked address with TLS verified against the host name.
// Recipient URLs are checked before every request and no redirect is followed.
import { lookup as dnsLookup } from 'node:dns';
import type { LookupAddress, LookupAllOptions, LookupOneOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import type { LookupFunction } from 'node:net';

export interface AllowedHost {
  host: string;
  port?: number;
  /** `*.domain`: the subdomains of `host`. */
  wildcard: boolean;
}

/** `allowed` undefined: public addresses only, any host. */
export interface OutboundPolicy {
  allowed?: AllowedHost[];
  /** The variable that holds the list, for messages (default FALLBACK_ALLOWED_HOSTS). */
  setting?: OutboundSetting;
  /** Name resolution; default dns.lookup (tests give a fixed table). */
  resolve?: (host: string) => Promise<LookupAddress[]>;
}

/** A destination the policy refuses; the message says which setting decides. */
export class OutboundRefusedError extends Error {
  override name = 'OutboundRefusedError';
  readonly code = 'EOUTBOUNDREFUSED';
}

const NON_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.0.0.0', 24],
  ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NON_PUBLIC.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['2001:db8::', 32], ['64:ff9b:1::', 48]] as const) NON_PUBLIC.addSubnet(net, prefix, 'ipv6');

export type OutboundSetting = 'FALLBACK_ALLOWED_HOSTS' | 'RECIPIENT_URL_ALLOWED_HOSTS';

const PURPOSE: Record<OutboundSetting, string> = { FALLBACK_ALLOWED_HOSTS: 'fallbacks to reach', RECIPIENT_URL_ALLOWED_HOSTS: 'recipient lists to be read from' };

export function outboundPolicyFromEnv(env: Record<string, string | undefined> = process.env, setting: OutboundSetting = 'FALLBACK_ALLOWED_HOSTS'): OutboundPolicy {
  const raw = env[setting]?.trim();
  if (!raw) return { setting };
  return { setting, allowed: raw.split(/[\s,]+/).filter(Boolean).map((entry) => parseAllowedHost(entry, setting)) };
}

function parseAllowedHost(entry: string, setting: OutboundSetting): AllowedHost {
  const match = /^(\*\.)?(\[[0-9a-f:.]+\]|[^\s:[\]]+)(?::(\d{1,5}))?$/i.exec(entry);
  const port = match?.[3] === undefined ? undefined : Number(match[3]);
  if (!match || (port !== undefined && (port < 1 || port > 65535))) throw new OutboundRefusedError(`${setting}: "${entry}" is not host, host:port, *.domain or [ipv6]:port`);
  return { host: normalizeHost(match[2]!), port, wildcard: match[1] !== undefined };
}

function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

/** Whether an IP address is private, loopback, link-local, reserved or multicast. */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return NON_PUBLIC.check(mapped, 'ipv4');
  return NON_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** The entry allowing host:port (undefined when the list is unset), or a refusal. */
function allowedEntry(policy: OutboundPolicy, host: string, port: number): AllowedHost | undefined {
  if (!policy.allowed) return undefined;
  const entry = policy.allowed.find((candidate) => (candidate.port === undefined || candidate.port === port) && (candidate.wildcard ? host.endsWith(`.${candidate.host}`) : host === candidate.host));
  const setting = policy.setting ?? 'FALLBACK_ALLOWED_HOSTS';
  if (!entry) throw new OutboundRefusedError(`${display(host, port)} is not in ${setting} (the hosts the workers' operator allows ${PURPOSE[setting]})`);
  return entry;
}

function display(host: string, port: number): string {
  return `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/**
 * Checks a destination without DNS (the host as written): the allow-list, and literal non-public
 * addresses (and "localhost"). Returns whether an exact entry allows non-public addresses for it.
 */
export function checkDestination(policy: OutboundPolicy, rawHost: string, port: number): { mayBeNonPublic: boolean } {
  const host = normalizeHost(rawHost);
  const entry = allowedEntry(policy, host, port);
  const mayBeNonPublic = entry !== undefined && !entry.wildcard;
  const literal = isIP(host) !== 0 ? isNonPublicAddress(host) : host === 'localhost' || host.endsWith('.localhost');
  if (literal && !mayBeNonPublic) throw new OutboundRefusedError(`${display(host, port)} is a private or loopback address: list it in ${policy.setting ?? 'FALLBACK_ALLOWED_HOSTS'} to allow it`);
  return { mayBeNonPublic };
}

/** The host and port of an http(s) URL. */
export function urlDestination(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: parsed.port ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80 };
}

/** Resolves a host and checks every address; the addresses to connect to. */
export async function resolveDestination(policy: OutboundPolicy, host: string, port: number): Promise<LookupAddress[]> {
  const { mayBeNonPublic } = checkDestination(policy, host, port);
  const addresses = await (policy.resolve ?? lookupAll)(normalizeHost(host));
  refuseNonPublic(addresses, host, port, mayBeNonPublic, policy.setting ?? 'FALLBACK_ALLOWED_HOSTS');
  return addresses;
}

function lookupAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => dnsLookup(host, { all: true }, (err, found) => (err ? reject(err) : resolve(found))));
}

function refuseNonPublic(addresses: LookupAddress[], host: string, port: number, mayBeNonPublic: boolean, setting: OutboundSetting): void {
  const bad = addresses.find((address) => isNonPublicAddress(address.address));
  if (bad && !mayBeNonPublic) throw new OutboundRefusedError(`${display(normalizeHost(host), port)} resolves to a private or loopback address: list the host in ${setting} to allow it`);
}

/**
 * A `lookup` for http.request that checks what the name resolves to, so the connection goes only to
 * an address the policy allows (IP literals never reach a lookup: checkDestination covers them).
 */
export function guardedLookup(policy: OutboundPolicy, port: number): LookupFunction {
  return ((hostname: string, options: LookupOneOptions | LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    resolveDestination(policy, hostname, port).then(
      (addresses) => (options.all ? callback(null, addresses) : callback(null, addresses[0]!.address, addresses[0]!.family)),
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  }) as LookupFunction;
}
