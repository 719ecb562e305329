/** Commit messages of the orchestrator's rollout state commits on the fleet repository (pure). */
import type { RolloutState } from './state.js';
import type { StepResult } from './step.js';

const short = (rev: string | undefined) => rev ?? 'nothing';

/** What a rollout commit records: a start, or one step (with its events). */
export type RolloutCommitWhat =
  | { kind: 'start'; state: RolloutState; superseded?: RolloutState; notTargeted: string[] }
  | { kind: 'retarget'; state: RolloutState }
  | { kind: 'step'; state: RolloutState; step: StepResult };

/**
 * Subject `rollout <name>: <what happened>`, the events in the body, and trailers
 * `Margo-Rollout`, `Margo-Rollout-Phase`, `Margo-Trigger`.
 */
export function rolloutCommitMessage(what: RolloutCommitWhat, trigger: string): string {
  const s = what.state;
  const body: string[] = [];
  let subject: string;
  if (what.kind === 'start') {
    const from = s.fromVersion ? `${s.fromVersion} (${short(s.from)})` : short(s.from);
    subject = `started ${from} -> ${s.toVersion ?? '?'} (${s.to}), ${s.waves.length} wave(s)`;
    if (what.superseded)
      body.push(
        `supersedes the rollout to ${what.superseded.to} (${what.superseded.phase}); its changed devices go back to ${short(s.from)}`,
      );
    for (const w of s.waves) body.push(`wave ${w.name}: ${w.devices.length} device(s)`);
    if (what.notTargeted.length) body.push(`not targets, left out: ${what.notTargeted.join(', ')}`);
  } else if (what.kind === 'retarget') {
    subject = 'targets changed';
  } else {
    const st = what.step;
    const parts: string[] = [];
    if (st.change.length) parts.push(`told ${st.change.length} device(s) to change`);
    if (st.revert.length) parts.push(`sent ${st.revert.length} device(s) back`);
    for (const e of st.events)
      if (e.kind !== 'device-failed' && e.kind !== 'revert-failed') parts.push(e.message);
    const failed = st.events.filter((e) => e.kind === 'device-failed' || e.kind === 'revert-failed').length;
    if (failed) parts.push(`${failed} failure(s)`);
    subject = parts.join('; ') || 'devices progressed';
    for (const e of st.events) body.push(`- ${e.message}`);
    if (st.change.length) body.push(`change: ${st.change.join(', ')}`);
    if (st.revert.length) body.push(`revert: ${st.revert.join(', ')}`);
  }
  const trailers = [
    `Margo-Rollout: ${s.deployment}`,
    `Margo-Rollout-Phase: ${s.phase}`,
    `Margo-Trigger: ${trigger.replace(/\n/g, ' ')}`,
  ];
  return `rollout ${s.deployment}: ${subject}\n\n${body.length ? `${body.join('\n')}\n\n` : ''}${trailers.join('\n')}\n`;
}
