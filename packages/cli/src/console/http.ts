import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson as sendJsonAnswer } from '@margo-gitops/orchestrator';
import { codeInfo, MargoError } from '@margo-gitops/spec';

/** The console's Content-Security-Policy: no inline script or style, nothing from elsewhere. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

/** Headers on every /ui answer. */
export function securityHeaders(): Record<string, string> {
  return {
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  };
}

/** HTTP status of a console error code (and of the CLI/ORCH codes a refused rollback carries). */
export function statusOf(code: string): number {
  switch (code) {
    case 'CONSOLE_UNAUTHENTICATED':
      return 401;
    case 'CONSOLE_FORBIDDEN':
    case 'CONSOLE_ROLE_NOT_ALLOWED':
    case 'CONSOLE_CSRF':
    case 'CLI_AUTH_FAILED':
      return 403;
    case 'CONSOLE_BAD_REQUEST':
    case 'USAGE_ERROR':
      return 400;
    case 'CONSOLE_RATE_LIMITED':
      return 429;
    case 'CONSOLE_ASSETS_MISSING':
    case 'CLI_SERVER_UNREACHABLE':
      return 503;
    case 'CLI_PUSH_CONFLICT':
    case 'CLI_NOTHING_TO_ROLLBACK':
      return 409;
    case 'INTERNAL_ERROR':
    case 'CLI_GIT_FAILED':
    case 'IO_ERROR':
      return 500;
  }
  if (/NOT_FOUND$/.test(code)) return 404;
  // Anything else a rollback is refused with (ORCH_*, CLI_* checks): the request is understood,
  // what it would write is not acceptable.
  return 422;
}

/** Writes a JSON answer with the console's headers; `cache-control: no-store` always. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  sendJsonAnswer(res, status, body, { ...securityHeaders(), ...headers });
}

/** The `{code, message, hint?}` body of an error (the registry's hint when the error has none). */
export function errorBody(e: MargoError): { code: string; message: string; hint?: string } {
  const hint = e.hint ?? codeInfo(e.code)?.hint;
  return { code: e.code, message: e.message, ...(hint ? { hint } : {}) };
}

export function sendError(res: ServerResponse, e: MargoError, headers: Record<string, string> = {}): void {
  sendJson(res, statusOf(e.code), errorBody(e), headers);
}

/** Reads a JSON object body of at most `limit` bytes (CONSOLE_BAD_REQUEST otherwise). Empty: {}. */
export async function readJsonBody(
  req: IncomingMessage,
  limit = 16 * 1024,
): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new MargoError('CONSOLE_BAD_REQUEST', `request body above ${limit} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new MargoError('CONSOLE_BAD_REQUEST', 'request body is not JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new MargoError('CONSOLE_BAD_REQUEST', 'request body must be a JSON object');
  return v as Record<string, unknown>;
}

/** Cookies of a request by name (the first of each name). Pure. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    if (!out.has(k)) out.set(k, part.slice(i + 1).trim());
  }
  return out;
}

/** Whether the request reached us over TLS (directly, or as a proxy in front of us says). */
export function isHttps(req: IncomingMessage): boolean {
  return (
    Boolean((req.socket as { encrypted?: boolean }).encrypted) ||
    String(req.headers['x-forwarded-proto'] ?? '')
      .split(',')[0]
      ?.trim() === 'https'
  );
}
