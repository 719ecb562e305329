import { pino, type Logger } from 'pino';

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
