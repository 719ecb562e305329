/**
 * bench/rollout's orchestrator process: the real Orchestrator as `margo serve` runs it (its own
 * periodic pass, its push and device-seen hooks fed from the Git server process through the
 * parent), without a signer or a status verifier (the simulated devices' status is unsigned).
 *   orchestrator-child.ts <dataDir> <reposRoot> <intervalMs> [maxConcurrentChanges]
 * Answers `{cpu: true}` with its CPU time (process.cpuUsage) and peak RSS.
 */
import { Orchestrator, type OrchestratorOptions } from '@margo-gitops/orchestrator';
import { pino } from 'pino';

const [dataDir, reposRoot, intervalMs, cap] = process.argv.slice(2) as [string, string, string, string?];
const logger = pino({ level: process.env.BENCH_LOG ?? 'warn' }, pino.destination(2));
const opts: OrchestratorOptions = {
  dataDir,
  reposRoot,
  logger,
  intervalMs: Number(intervalMs),
};
if (cap) opts.maxConcurrentChanges = Number(cap);
const orch = new Orchestrator(opts);
let passes = 0;
let passMs = 0;
process.on(
  'message',
  (m: {
    push?: { repo: string; ref: string; deviceId?: string };
    seen?: string[];
    cpu?: boolean;
    pass?: string;
  }) => {
    if (m.push) orch.notifyPush(m.push);
    if (m.seen) for (const id of m.seen) orch.notifyDeviceSeen(id);
    if (m.pass)
      void orch
        .reconcileNow(m.pass)
        .then((s) =>
          process.send!({ passDone: { committed: s.committed, ms: s.durationMs, failed: s.failed.length } }),
        );
    if (m.cpu)
      process.send!({
        cpu: process.cpuUsage(),
        maxRssKb: process.resourceUsage().maxRSS,
        rssKb: Math.round(process.memoryUsage().rss / 1024),
        passes,
        passMs,
        last: orch.lastSummary && {
          reason: orch.lastSummary.reason,
          committed: orch.lastSummary.committed,
          failed: orch.lastSummary.failed.slice(0, 3),
        },
      });
  },
);
// Counts passes and their time (observation only: the pass itself is the orchestrator's own).
const inner = orch as unknown as { runPass?: (...a: unknown[]) => Promise<unknown> };
const wrap = inner.runPass;
if (typeof wrap === 'function')
  inner.runPass = async function (this: Orchestrator, ...a: unknown[]) {
    const t = performance.now();
    try {
      return await wrap.apply(this, a);
    } finally {
      passes++;
      passMs += performance.now() - t;
    }
  };
const s = await orch.start();
process.send!({ started: { committed: s?.committed ?? -1, ms: s?.durationMs ?? -1 } });
process.on('disconnect', () => void orch.stop().then(() => process.exit(0)));
