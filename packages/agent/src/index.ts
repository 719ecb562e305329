export {
  loadAgentConfig,
  envName,
  type ConfigSources,
  type ConfigProblem,
} from './config/load-agent-config.js';
export { DEFAULT_CONFIG, type AgentConfig } from './config/agent-config.js';
export {
  parseWindow,
  inWindow,
  activityAt,
  msUntilActive,
  type TimeWindow,
  type Schedule,
  type Activity,
} from './config/windows.js';
