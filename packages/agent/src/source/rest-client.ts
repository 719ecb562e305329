/**
 * The agent's HTTPS client for the Workload Management API: mutual TLS with the device key and its
 * enrolment certificate (which carries the device's SPIFFE ID, so it is its X.509-SVID), our root
 * CA as the only trust anchor, and the server checked by its SPIFFE ID, not its host name (MIAF):
 * its certificate must carry `spiffe://<trust domain>/margo/wfm/<wfm id>`, the fleet manager the
 * device's own SVID names. One kept-alive connection carries every poll (a 304 costs no handshake).
 */
import { X509Certificate } from 'node:crypto';
import { Agent, request, type RequestOptions } from 'node:https';
import type { PeerCertificate } from 'node:tls';
import { MargoError, isMargoError } from '@margo-gitops/spec';
import { parseSpiffeId, uriSans } from '@margo-gitops/trust/device';

export interface RestClientOptions {
  /** `https://host:port` of the API (path ignored). */
  apiUrl: string;
  keyPem: string;
  /** The device certificate (its SVID). */
  certPem: string;
  /** Root CA: the only certificate the server's chain may end in. */
  caCertPem: string;
  /** Per-request time limit; default 30 s. */
  timeoutMs?: number;
  /** Largest body read; default 32 MiB. */
  maxBodyBytes?: number;
  /** Clock for Retry-After (tests); default Date.now. */
  now?: () => number;
}

export interface RestReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** The problem `code` of an RFC 9457 body, if any (for logs; never trusted for decisions). */
export function problemCode(r: RestReply): string | undefined {
  try {
    const c = (JSON.parse(r.body.toString('utf8')) as { code?: unknown }).code;
    return typeof c === 'string' ? c.slice(0, 80) : undefined;
  } catch {
    return undefined;
  }
}

/** Longest wait a Retry-After may impose (a wrong header must not silence a device for days). */
export const MAX_RETRY_AFTER_SECONDS = 3600;

/**
 * The Retry-After of an answer in whole seconds (RFC 9110: delay-seconds or an HTTP-date), capped
 * at MAX_RETRY_AFTER_SECONDS; undefined when absent or unreadable.
 */
export function retryAfterSeconds(r: RestReply, nowMs = Date.now()): number | undefined {
  const h = r.headers['retry-after'];
  const v = (Array.isArray(h) ? h[0] : h)?.trim();
  if (!v) return undefined;
  let s: number;
  if (/^[0-9]{1,10}$/.test(v)) s = Number(v);
  else {
    const at = Date.parse(v);
    if (!Number.isFinite(at) || !/[a-z]/i.test(v)) return undefined;
    s = Math.ceil((at - nowMs) / 1000);
  }
  return Math.min(Math.max(s, 0), MAX_RETRY_AFTER_SECONDS);
}

/**
 * The SPIFFE ID the server must present, from the device's SVID:
 * `spiffe://<td>/margo/wfm/<wfm>/client/<device>` -> `spiffe://<td>/margo/wfm/<wfm>`.
 * Throws AGENT_CONFIG_INVALID when the certificate carries no such ID (enrolled before SVIDs).
 */
export function serverSpiffeIdFor(certPem: string): string {
  const ids = uriSans(new X509Certificate(certPem));
  const p = ids.length === 1 ? parseSpiffeId(ids[0]!) : undefined;
  const s = p?.segments;
  if (!p || s?.length !== 5 || s[0] !== 'margo' || s[1] !== 'wfm' || s[3] !== 'client')
    throw new MargoError(
      'AGENT_CONFIG_INVALID',
      'the device certificate carries no Margo client SPIFFE ID, so it cannot call the API',
      { hint: 'Re-enrol the device (certificates issued since the API carry it), or use --transport git.' },
    );
  return `spiffe://${p.trustDomain}/margo/wfm/${s[2]}`;
}

/** The URI SANs of a peer certificate as node:tls reports it (`URI:a, DNS:b`). */
function peerUris(cert: PeerCertificate): string[] {
  return (cert.subjectaltname ?? '')
    .split(', ')
    .filter((e) => e.startsWith('URI:'))
    .map((e) => e.slice(4));
}

export class RestClient {
  readonly serverSpiffeId: string;
  private readonly agent: Agent;
  private readonly base: URL;
  /** Epoch ms before which nothing is sent: the server answered 429 with Retry-After. */
  private notBefore = 0;

  constructor(private readonly o: RestClientOptions) {
    this.base = new URL(o.apiUrl);
    if (this.base.protocol !== 'https:')
      throw new MargoError('AGENT_CONFIG_INVALID', `the API URL ${this.base.origin} is not https`);
    this.serverSpiffeId = serverSpiffeIdFor(o.certPem);
    const expected = this.serverSpiffeId;
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: 2,
      key: o.keyPem,
      cert: o.certPem,
      ca: [o.caCertPem],
      minVersion: 'TLSv1.2',
      // The chain is checked against our CA by TLS; the name is the SPIFFE ID, exactly one.
      checkServerIdentity: (_host, cert) => {
        const uris = peerUris(cert);
        if (uris.length === 1 && uris[0] === expected) return undefined;
        return new MargoError(
          'AGENT_SERVER_IDENTITY_MISMATCH',
          `the API server presented ${uris.length ? uris.join(', ').slice(0, 200) : 'no SPIFFE ID'}, not ${expected}`,
          { data: { expected } },
        );
      },
    });
  }

  /** `https://host:port` (for logs). */
  get origin(): string {
    return this.base.origin;
  }

  /**
   * One request. Network and TLS failures throw AGENT_API_UNREACHABLE (AGENT_SERVER_IDENTITY_MISMATCH
   * for a server that is not ours); every HTTP answer resolves, whatever its status. After a 429
   * with Retry-After, requests until then throw AGENT_API_THROTTLED without being sent (polls,
   * downloads and status posts alike: the server's budget is per device).
   */
  async send(
    method: string,
    path: string,
    o: { headers?: Record<string, string>; body?: Buffer } = {},
  ): Promise<RestReply> {
    const url = new URL(path, this.base);
    const now = (this.o.now ?? Date.now)();
    if (now < this.notBefore) {
      const wait = Math.ceil((this.notBefore - now) / 1000);
      throw new MargoError(
        'AGENT_API_THROTTLED',
        `${method} ${url.pathname} not sent: the server asked to wait ${wait} s more (429 Retry-After)`,
        { data: { retryAfterSeconds: wait }, retry: 'backoff' },
      );
    }
    const r = await this.request(method, url, o);
    if (r.status === 429) {
      const s = retryAfterSeconds(r, now);
      if (s) this.notBefore = now + s * 1000;
    }
    return r;
  }

  private request(
    method: string,
    url: URL,
    o: { headers?: Record<string, string>; body?: Buffer },
  ): Promise<RestReply> {
    const max = this.o.maxBodyBytes ?? 32 * 1024 * 1024;
    const opts: RequestOptions = {
      method,
      agent: this.agent,
      headers: {
        ...(o.headers ?? {}),
        ...(o.body ? { 'content-length': String(o.body.length) } : {}),
      },
      timeout: this.o.timeoutMs ?? 30_000,
    };
    return new Promise<RestReply>((resolve, reject) => {
      const req = request(url, opts, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > max) {
            req.destroy(new Error(`answer larger than ${max} bytes`));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeout} ms`)));
      req.on('error', reject);
      req.end(o.body);
    }).catch((e: unknown) => {
      if (isMargoError(e)) throw e;
      throw new MargoError(
        'AGENT_API_UNREACHABLE',
        `${method} ${url.pathname} on ${this.base.origin}: ${(e as Error).message}`,
        { cause: e, retry: 'backoff' },
      );
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
