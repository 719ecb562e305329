/**
 * bench/api load process: a slice of the simulated devices, each with its own X.509-SVID and its
 * own kept-alive node:https Agent (one connection), as the REST agent holds it. Run apart from the
 * server (and pinned to other cores when the bench can) so the load does not eat the server's CPU.
 * argv: <config.json> (port, ca, key, svids, inFlight). Protocol on stdin/stdout, one JSON line each:
 *   start                 -> first contact of every device (handshake + 200)  -> {"ms":N}
 *   poll <start> <end>    -> no-change polls round-robin between two epoch ms -> {"ok":N,"errors":N,"lat":[ms...]}
 *   reconnect             -> every connection closed, one poll each (the Agent keeps its TLS
 *                            session, so the server may resume it)             -> {"ms":N,"resumed":N}
 *   reconnect-fresh       -> the same with the TLS sessions forgotten (full handshakes)
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect as connectTls, type TLSSocket } from 'node:tls';

interface Config {
  port: number;
  ca: string;
  key: string;
  svids: string[];
  inFlight: number;
  /** raw (default): bare TLS socket, hand-written request; https: node:https Agent. */
  client: 'raw' | 'https';
}
const cfg = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Config;

type Result = { status: number; resumed: boolean };
interface Device {
  poll(): Promise<Result>;
  /** Closes the connection; the TLS session is kept for the next one unless `forget`. */
  close(forget?: boolean): void;
}

/** node:https with a kept-alive Agent of one socket, as the REST agent polls. */
function httpsDevice(cert: string): Device {
  const newAgent = () => new Agent({ keepAlive: true, maxSockets: 1, cert, key: cfg.key, ca: cfg.ca });
  let agent = newAgent();
  let etag: string | undefined;
  return {
    poll: () =>
      new Promise((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: cfg.port,
            path: '/api/v1/deployments',
            agent,
            headers: etag ? { 'if-none-match': etag } : {},
          },
          (res) => {
            // Read now: at 'end' the socket has gone back to the Agent.
            const resumed = (res.socket as TLSSocket).isSessionReused();
            res.resume();
            res.on('end', () => {
              if (res.headers.etag) etag = res.headers.etag;
              resolve({ status: res.statusCode ?? 0, resumed });
            });
          },
        );
        req.on('error', reject);
        req.end();
      }),
    // destroy() closes the sockets; the Agent's TLS session cache stays, as in a long-lived
    // agent whose kept-alive connection timed out between two polls.
    close: (forget) => {
      agent.destroy();
      if (forget) agent = newAgent();
    },
  };
}

/**
 * The same request bytes as node:https sends, written on a bare TLS socket and the answer read
 * by hand (status line, ETag, Content-Length): a load generator that costs the load process a
 * fraction of node:https, so one core of load can drive more polls than the server needs.
 */
function rawDevice(cert: string): Device {
  let sock: TLSSocket | undefined;
  let session: Buffer | undefined;
  let etag: string | undefined;
  let buf: Buffer = Buffer.alloc(0);
  let pending: { resolve(r: Result): void; reject(e: Error): void; resumed: boolean } | undefined;
  const fail = (e: Error) => {
    sock = undefined;
    buf = Buffer.alloc(0);
    const p = pending;
    pending = undefined;
    p?.reject(e);
  };
  const onData = (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = buf.toString('latin1', 0, end);
    if (/\r\ntransfer-encoding:/i.test(head))
      return fail(new Error('chunked answer: not read by this client'));
    const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (buf.length < end + 4 + len) return;
    const tag = /\r\netag: *([^\r\n]+)/i.exec(head)?.[1];
    if (tag) etag = tag.trim();
    buf = buf.subarray(end + 4 + len);
    const p = pending;
    pending = undefined;
    p?.resolve({ status: Number(head.slice(9, 12)), resumed: p.resumed });
  };
  const connect = () =>
    new Promise<TLSSocket>((resolve, reject) => {
      const s = connectTls(
        {
          host: '127.0.0.1',
          port: cfg.port,
          cert,
          key: cfg.key,
          ca: cfg.ca,
          ...(session ? { session } : {}),
        },
        () => resolve(s),
      );
      s.on('session', (t: Buffer) => (session = t));
      s.on('data', onData);
      s.on('error', (e) => (s === sock ? fail(e) : reject(e)));
      s.on('close', () => s === sock && fail(new Error('connection closed')));
    });
  return {
    poll: async () => {
      if (!sock) sock = await connect();
      const s = sock;
      return new Promise<Result>((resolve, reject) => {
        pending = { resolve, reject, resumed: s.isSessionReused() };
        s.write(
          `GET /api/v1/deployments HTTP/1.1\r\n${etag ? `If-None-Match: ${etag}\r\n` : ''}Host: 127.0.0.1:${cfg.port}\r\nConnection: keep-alive\r\n\r\n`,
        );
      });
    },
    close: (forget) => {
      const s = sock;
      sock = undefined;
      if (forget) session = undefined;
      s?.destroy();
    },
  };
}

const devices: Device[] = cfg.svids.map(cfg.client === 'https' ? httpsDevice : rawDevice);

/** Every device once, `inFlight` at a time. */
async function everyOnce(): Promise<{ ms: number; resumed: number }> {
  const t0 = performance.now();
  let next = 0;
  let resumed = 0;
  await Promise.all(
    Array.from({ length: cfg.inFlight }, async () => {
      while (next < devices.length) {
        const r = await devices[next++]!.poll();
        if (r.status !== 200 && r.status !== 304) throw new Error(`first contact answered ${r.status}`);
        if (r.resumed) resumed++;
      }
    }),
  );
  return { ms: performance.now() - t0, resumed };
}

async function pollUntil(
  startAt: number,
  deadline: number,
): Promise<{ ok: number; errors: number; lat: number[] }> {
  await sleep(startAt - Date.now());
  const lat: number[] = [];
  let errors = 0;
  let turn = 0;
  await Promise.all(
    Array.from({ length: cfg.inFlight }, async () => {
      while (Date.now() < deadline) {
        const d = devices[turn++ % devices.length]!;
        const s = performance.now();
        const r = await d.poll().catch(() => ({ status: 0 }));
        if (r.status === 304) lat.push(Math.round((performance.now() - s) * 100) / 100);
        else errors++;
      }
    }),
  );
  return { ok: lat.length, errors, lat };
}

const say = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, a, b] = line.split(' ');
  const run = async (): Promise<unknown> => {
    if (cmd === 'start') return everyOnce();
    if (cmd === 'poll') return pollUntil(Number(a), Number(b));
    if (cmd === 'reconnect' || cmd === 'reconnect-fresh') {
      for (const d of devices) d.close(cmd === 'reconnect-fresh');
      return everyOnce();
    }
    if (cmd === 'exit') process.exit(0);
    throw new Error(`unknown command ${line}`);
  };
  run().then(say, (e: Error) => say({ error: e.message }));
});
