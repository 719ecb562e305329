import { pino, type Logger } from 'pino';
import { isMargoError } from '@margo-gitops/spec';

/**
 * The agent's JSON-lines logger (pino) on stderr, with the device id bound and credentials redacted.
 * @example const log = createAgentLogger({ level: 'info', deviceId: 'dev-1' });
 */
export function createAgentLogger(
  o: { level?: string; deviceId?: string; destination?: number | string } = {},
): Logger {
  return pino(
    {
      level: o.level ?? 'info',
      base: o.deviceId ? { deviceId: o.deviceId } : {},
      redact: {
        paths: [
          'token',
          'password',
          'auth',
          '*.token',
          '*.password',
          'headers.authorization',
          'registry.password',
        ],
        censor: '***',
      },
    },
    pino.destination({ dest: o.destination ?? 2, sync: true }),
  );
}

/** A thrown value as log fields: code and message only (never a stack, a cause or credentials). */
export function errInfo(e: unknown): Record<string, unknown> {
  if (isMargoError(e)) return { code: e.code, message: e.message };
  return { message: e instanceof Error ? e.message : String(e) };
}
