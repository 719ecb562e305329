import type { Logger } from 'pino';
import { CAPABILITIES_FILE } from '@margo-gitops/spec';
import type { DriverSet } from '../apply/driver-set.js';
import { discoverCapabilities } from '../capabilities/discover-capabilities.js';
import type { AgentConfig } from '../config/agent-config.js';
import { errInfo } from '../logger.js';
import { otelCollectorOf } from '../otel/otel-settings.js';
import type { StatusSink } from '../source/desired-source.js';
import { statusFileContent } from './build-status.js';

/** Discovers this device's capabilities and queues them when they changed (never throws). */
export async function reportCapabilities(
  config: AgentConfig,
  drivers: DriverSet,
  sink: StatusSink,
  logger: Logger,
): Promise<void> {
  try {
    const nodeCapacity = await drivers.nodeCapacity();
    const otel = otelCollectorOf(config);
    const caps = discoverCapabilities({
      deviceId: config.deviceId,
      storagePath: config.stateDir,
      runtimes: drivers.all.map((d) => d.name),
      ...(nodeCapacity ? { nodeCapacity } : {}),
      ...(config.capabilitiesFile ? { overridesFile: config.capabilitiesFile } : {}),
      ...(otel ? { otelCollector: { endpoint: otel.endpoint, protocol: otel.protocol } } : {}),
    });
    if (sink.report({ [CAPABILITIES_FILE]: statusFileContent(caps) }, 'capabilities'))
      logger.info('capabilities reported');
  } catch (e) {
    logger.warn({ err: errInfo(e) }, 'capabilities discovery failed');
  }
}
