import type { Logger } from 'pino';
import type { AgentConfig } from '../config/agent-config.js';
import type { DesiredSource, StatusSink, Verifier } from './desired-source.js';
import { RestClient } from './rest-client.js';
import { RestDesiredSource } from './rest-source.js';
import { RestStatusSink } from './rest-status-sink.js';

export interface RestTransportOptions {
  config: AgentConfig & { apiUrl: string };
  /** The device identity: its key, its certificate (X.509-SVID) and the root CA. */
  keyPem: string;
  certPem: string;
  caCertPem: string;
  verifier?: Verifier;
  logger: Logger;
}

/**
 * Both directions over the Workload Management API on one kept-alive mTLS client: desired state
 * from `GET /api/v1/deployments`, status to `POST .../status` and `PUT /api/v1/capabilities/{id}`.
 * Same state folder as Git (applied state, intents, outbox), so a device can switch either way.
 */
export function createRestTransport(o: RestTransportOptions): {
  source: DesiredSource;
  sink: StatusSink;
  close(): void;
} {
  const client = new RestClient({
    apiUrl: o.config.apiUrl,
    keyPem: o.keyPem,
    certPem: o.certPem,
    caCertPem: o.caCertPem,
  });
  return {
    source: new RestDesiredSource({
      client,
      stateDir: o.config.stateDir,
      deviceId: o.config.deviceId,
      ...(o.verifier ? { verifier: o.verifier } : {}),
    }),
    sink: new RestStatusSink({
      client,
      stateDir: o.config.stateDir,
      deviceId: o.config.deviceId,
      logger: o.logger,
    }),
    close: () => client.close(),
  };
}
