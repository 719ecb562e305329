import { MargoError } from '@margo-gitops/spec';
import { execGit } from '../exec-git.js';

/** Oldest git the server works with: configuration through GIT_CONFIG_COUNT appeared in 2.31. */
export const MIN_GIT_VERSION = [2, 31] as const;

/** Parses `git version 2.39.5` (also `2.39.5.windows.1`, `2.40.0 (Apple Git-1)`) into numbers. */
export function parseGitVersion(text: string): number[] | undefined {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

/**
 * Checks that the git binary the embedded server needs is installed and recent enough; call it at
 * start-up of `margo serve` to fail early with a clear message.
 *
 * @example
 * const { version } = await checkGitBinary(); // '2.39.5'
 */
export async function checkGitBinary(): Promise<{ version: string }> {
  const out = (await execGit(['--version'])).stdout.toString().trim();
  const v = parseGitVersion(out);
  if (!v || v[0]! < MIN_GIT_VERSION[0] || (v[0] === MIN_GIT_VERSION[0] && v[1]! < MIN_GIT_VERSION[1])) {
    throw new MargoError(
      'GIT_SERVER_MISCONFIGURED',
      `git ${v ? v.join('.') : out} is too old for the embedded server`,
      {
        hint: `Install git ${MIN_GIT_VERSION.join('.')} or newer on the orchestrator host.`,
      },
    );
  }
  return { version: v.join('.') };
}
