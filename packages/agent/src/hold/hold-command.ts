import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { HOLD_REASON_MAX, MargoError, type DeviceHold } from '@margo-gitops/spec';
import { placeHold, readHold, releaseHold } from './hold-file.js';

export const HOLD_USAGE = `usage: margo-agent hold --state <dir> --reason <text>
       margo-agent hold --state <dir> --status [--json]
       margo-agent release --state <dir>

  On-site hold: while held, the agent on this device applies no change (no installation, update
  or removal); what runs keeps running, and it keeps polling and reporting. Fleet status shows the
  hold and its reason. \`release\` lifts it: the agent applies what is pending at once.

  --state <dir>     state folder of the agent (the one \`margo-agent --state\` runs with)
  --reason <text>   why (shown in fleet status; at most ${HOLD_REASON_MAX} characters)
  --status          show whether the device is held (exit 0 either way)
  --json            with --status: {"held": true|false, "reason", "since"}
`;

export interface HoldIo {
  out(text: string): void;
  cwd: string;
  now?: () => Date;
}

export interface HoldRequest {
  verb: 'hold' | 'release';
  state: string;
  reason?: string;
  status?: boolean;
  json?: boolean;
}

/** Parses `hold ...` / `release ...` arguments (after the verb). */
export function parseHoldArgs(verb: 'hold' | 'release', argv: string[]): HoldRequest | { error: string } {
  const req: HoldRequest = { verb, state: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [k, inline] = a.split(/=(.*)/s, 2) as [string, string | undefined];
    if (k === '--status' || k === '--json') {
      req[k === '--status' ? 'status' : 'json'] = true;
      continue;
    }
    if (k !== '--state' && !(verb === 'hold' && k === '--reason'))
      return { error: a.startsWith('--') ? `unknown option ${k}` : `unexpected argument ${a}` };
    const v = inline ?? argv[++i];
    if (v === undefined) return { error: `${k} needs a value` };
    if (k === '--state') req.state = v;
    else req.reason = v;
  }
  if (!req.state) return { error: '--state is required' };
  if (verb === 'release' && (req.status || req.json)) return { error: 'release takes --state only' };
  if (verb === 'hold' && !req.status && req.reason === undefined)
    return { error: 'hold needs --reason <text> (or --status)' };
  if (req.status && req.reason !== undefined) return { error: '--status and --reason exclude each other' };
  return req;
}

const describe = (h: DeviceHold) => `${h.reason}${h.since ? ` (since ${h.since})` : ''}`;

/**
 * Carries out `margo-agent hold|release` (and `margo agent hold|release`) on the state folder; the
 * running agent picks the change up by itself. Returns the exit code; throws MargoErrors
 * (CLI_AGENT_STATE_INVALID for a folder that is not there, USAGE_ERROR for a reason too long or empty).
 */
export function runHold(req: HoldRequest, io: HoldIo): number {
  const stateDir = resolve(io.cwd, req.state);
  let isDir = false;
  try {
    isDir = statSync(stateDir).isDirectory();
  } catch {
    /* missing */
  }
  if (!isDir)
    throw new MargoError('CLI_AGENT_STATE_INVALID', `${stateDir} is not an agent state folder`, {
      hint: 'Give the --state folder the agent runs with (margo-agent --state DIR).',
    });
  if (req.verb === 'release') {
    const was = releaseHold(stateDir);
    io.out(
      was
        ? `hold released (was: ${describe(was)}); the agent applies the pending desired state at once\n`
        : 'not held; nothing to release\n',
    );
    return 0;
  }
  if (req.status) {
    const h = readHold(stateDir);
    if (req.json) io.out(JSON.stringify(h ? { held: true, ...h } : { held: false }) + '\n');
    else io.out(h ? `held: ${describe(h)}\n` : 'not held\n');
    return 0;
  }
  if ([...req.reason!].length > HOLD_REASON_MAX)
    throw new MargoError(
      'USAGE_ERROR',
      `the reason is ${[...req.reason!].length} characters long; at most ${HOLD_REASON_MAX}`,
    );
  const { hold, already } = placeHold(stateDir, req.reason!, io.now?.() ?? new Date());
  io.out(
    `${already ? 'hold re-worded' : 'held'}: ${describe(hold)}\n` +
      'the agent applies no change until `margo-agent release`; workloads keep running\n',
  );
  return 0;
}
