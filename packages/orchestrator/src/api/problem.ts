/**
 * RFC 9457 problem details as the rc.2 API wants them: `application/problem+json`, the Margo type
 * URI where the spec defines one (invalid-request for 400/422), else our own URN per code, our
 * stable code as the `code` extension member, and Retry-After on 429/503.
 */
import type { ServerResponse } from 'node:http';
import { codeInfo, type MargoError } from '@margo-gitops/spec';

export const INVALID_REQUEST_TYPE = 'https://docs.margo.org/specification/problem-types#invalid-request';

export interface ProblemOptions {
  detail?: string;
  /** The request path (never with a query: nothing the caller did not send is echoed). */
  instance?: string;
  retryAfterSeconds?: number;
  errors?: { field: string; message: string }[];
}

/** The problem body (a plain object matching rc.2 ProblemDetail). */
export function problemBody(status: number, code: string, o: ProblemOptions = {}): Record<string, unknown> {
  const invalid = status === 400 || status === 422;
  const retryable = o.retryAfterSeconds !== undefined;
  return {
    type: invalid ? INVALID_REQUEST_TYPE : `urn:margo-gitops:error:${code}`,
    title: invalid ? 'Invalid request' : (codeInfo(code)?.summary ?? code),
    status,
    ...(o.detail ? { detail: o.detail } : {}),
    ...(o.instance ? { instance: o.instance } : {}),
    retryable,
    ...(retryable ? { retryAfterSeconds: o.retryAfterSeconds, backoffStrategy: 'exponential' } : {}),
    ...(o.errors?.length ? { errors: o.errors } : {}),
    code,
  };
}

/** Writes a problem response (Retry-After when retryAfterSeconds is given). */
export function sendProblem(res: ServerResponse, status: number, code: string, o: ProblemOptions = {}): void {
  const text = JSON.stringify(problemBody(status, code, o));
  res.writeHead(status, {
    'content-type': 'application/problem+json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...(o.retryAfterSeconds !== undefined ? { 'retry-after': String(o.retryAfterSeconds) } : {}),
  });
  res.end(text);
}

/** The status a MargoError from the read side maps to; 500 hides anything unexpected. */
export function statusOfError(err: MargoError): number {
  return err.code === 'API_UNAVAILABLE' ? 503 : err.code === 'API_NOT_FOUND' ? 404 : 500;
}
