/**
 * Figures of one request to the embedded Git server, for the caller's metrics
 * (GitHttpHandlerOptions.onRequest): which service, how it ended, and the body bytes each way.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface GitRequestEvent {
  /** `upload-pack` (fetch/clone), `receive-pack` (push), `none` (no repository route: a 404 or 400). */
  service: 'upload-pack' | 'receive-pack' | 'none';
  /** The `info/refs` advertisement that starts every fetch and push (an agent's poll is one). */
  advertisement: boolean;
  /** HTTP status answered (0 when the connection closed before an answer). */
  status: number;
  /** Request body bytes as received (compressed when the client compressed them). */
  bytesIn: number;
  /** Response body bytes sent. */
  bytesOut: number;
  /** Set when a device token was used. */
  deviceId?: string;
  /** Whole request, ms. */
  durationMs: number;
}

/** What the handler fills in as it routes the request. */
export interface GitRequestWatch {
  service: GitRequestEvent['service'];
  advertisement: boolean;
  deviceId?: string;
}

/**
 * Counts a request's bytes and reports it once its response closes. The request body is counted
 * where Node's HTTP parser hands it over (`push`), plus what is buffered already, so the counting
 * never changes how the handler reads the body; the response body at `write`/`end`.
 */
export function watchGitRequest(
  req: IncomingMessage,
  res: ServerResponse,
  report: (e: GitRequestEvent) => void,
): GitRequestWatch {
  const t0 = performance.now();
  const watch: GitRequestWatch = { service: 'none', advertisement: false };
  let bytesIn = req.readableLength;
  let bytesOut = 0;
  const push = req.push.bind(req);
  req.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (chunk !== null && chunk !== undefined) bytesIn += byteLength(chunk);
    return push(chunk, encoding);
  };
  const write = res.write.bind(res) as (...a: unknown[]) => boolean;
  const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
  res.write = ((chunk: unknown, ...rest: unknown[]) => {
    bytesOut += byteLength(chunk);
    return write(chunk, ...rest);
  }) as typeof res.write;
  res.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'function') bytesOut += byteLength(chunk);
    return end(chunk, ...rest);
  }) as typeof res.end;
  res.once('close', () => {
    try {
      report({
        service: watch.service,
        advertisement: watch.advertisement,
        status: res.headersSent ? res.statusCode : 0,
        bytesIn,
        bytesOut,
        ...(watch.deviceId ? { deviceId: watch.deviceId } : {}),
        durationMs: performance.now() - t0,
      });
    } catch {
      /* a failing metrics callback must not take the server down */
    }
  });
  return watch;
}

function byteLength(chunk: unknown): number {
  if (chunk === null || chunk === undefined || typeof chunk === 'function') return 0;
  if (typeof chunk === 'string') return Buffer.byteLength(chunk);
  if (ArrayBuffer.isView(chunk)) return chunk.byteLength;
  return 0;
}
