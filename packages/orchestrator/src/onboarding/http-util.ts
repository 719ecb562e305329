import type { IncomingMessage, ServerResponse } from 'node:http';
import { MargoError, codeInfo } from '@margo-gitops/spec';

/**
 * Reads a request body up to `limit` bytes; TRUST_ENROL_REQUEST_INVALID beyond, or when the body
 * cannot be read. An oversized body is drained, not destroyed, so the caller can still answer
 * with a 400 problem on the same socket (a destroyed request loses its socket and the answer).
 */
export function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      over = true;
      chunks.length = 0;
      reject(new MargoError('TRUST_ENROL_REQUEST_INVALID', `request body larger than ${limit} bytes`));
    });
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks));
    });
    req.on('error', () =>
      reject(new MargoError('TRUST_ENROL_REQUEST_INVALID', 'the request body could not be read')),
    );
  });
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** HTTP status of each code the onboarding API can refuse with. */
export const STATUS_BY_CODE: Record<string, number> = {
  TRUST_ENROL_REQUEST_INVALID: 400,
  TRUST_DEVICE_ID_INVALID: 400,
  TRUST_CSR_INVALID: 400,
  TRUST_CSR_SUBJECT_MISMATCH: 403,
  TRUST_ENROL_TOKEN_UNKNOWN: 401,
  TRUST_ENROL_TOKEN_EXPIRED: 401,
  TRUST_ENROL_TOKEN_USED: 401,
  TRUST_ENROL_TOKEN_WRONG_DEVICE: 401,
  TRUST_ENROL_PROOF_INVALID: 401,
  TRUST_ENROL_STRING_INVALID: 400,
  TRUST_DEVICE_ALREADY_ENROLLED: 409,
  TRUST_ENROL_RATE_LIMITED: 429,
};

/**
 * RFC 9457 problem+json for a MargoError: {type, title, status, detail, code, retryable}. Only the
 * error's own message (secret-free by contract) is sent, never a cause.
 */
export function sendProblem(
  res: ServerResponse,
  err: MargoError,
  status?: number,
  headers: Record<string, string> = {},
): void {
  const s = status ?? STATUS_BY_CODE[err.code] ?? 500;
  const body = {
    type: `urn:margo-gitops:error:${err.code}`,
    title: codeInfo(err.code)?.summary ?? err.code,
    status: s,
    detail: s >= 500 ? 'internal error' : err.message,
    code: err.code,
    retryable: err.retry !== 'never',
    ...(err.hint && s < 500 ? { hint: err.hint } : {}),
  };
  const text = JSON.stringify(body);
  res.writeHead(s, {
    'content-type': 'application/problem+json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function remoteKey(req: IncomingMessage): string {
  return req.socket?.remoteAddress ?? 'unknown';
}
