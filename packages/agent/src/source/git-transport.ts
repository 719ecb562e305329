import { join } from 'node:path';
import type { Logger } from 'pino';
import { IsoGitStore, NativeGitStore, type GitAuth, type GitStore } from '@margo-gitops/git';
import type { AgentConfig } from '../config/agent-config.js';
import type { DesiredSource, StatusSink, Verifier } from './desired-source.js';
import { GitDesiredSource } from './git-source.js';
import { GitStatusSink } from './git-status-sink.js';

export interface GitTransportOptions {
  config: AgentConfig;
  /** Git store for the device repository; default by `config.gitBackend` in `<stateDir>/repo`. */
  gitStore?: GitStore;
  verifier?: Verifier;
  signStatus?: (bytes: Buffer) => string;
  logger: Logger;
  now: () => Date;
}

/**
 * Both directions over the device repository: desired state from `main`, status to the `status`
 * branch, in one local bare repository (`<stateDir>/repo`) with the device token.
 */
export function createGitTransport(o: GitTransportOptions): { source: DesiredSource; sink: StatusSink } {
  const { config } = o;
  const store: GitStore =
    o.gitStore ??
    (config.gitBackend === 'native'
      ? new NativeGitStore(join(config.stateDir, 'repo'))
      : new IsoGitStore(join(config.stateDir, 'repo')));
  const auth: GitAuth = { token: config.token ?? '', username: config.gitUsername };
  return {
    source: new GitDesiredSource({
      store,
      url: config.repoUrl,
      auth,
      deviceId: config.deviceId,
      ...(o.verifier ? { verifier: o.verifier } : {}),
    }),
    sink: new GitStatusSink({
      store,
      url: config.repoUrl,
      auth,
      stateDir: config.stateDir,
      deviceId: config.deviceId,
      historyLimit: config.statusHistoryLimit,
      logger: o.logger,
      ...(o.signStatus ? { signStatus: o.signStatus } : {}),
      now: o.now,
    }),
  };
}
