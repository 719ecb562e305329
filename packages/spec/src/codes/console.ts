import type { CodeTable } from './types.js';

/**
 * Stable error codes of the web console's JSON API (`/ui/api/*` on `margo serve`), sent as
 * `{code, message, hint?}`. Add entries; never rename or remove one.
 */
export const consoleCodes = {
  CONSOLE_UNAUTHENTICATED: {
    summary:
      'The console request has no valid session or token (signed out, expired after 12 h idle, or the token was revoked).',
    hint: 'Sign in again with a token (`margo token create --role viewer --name NAME` makes one).',
  },
  CONSOLE_FORBIDDEN: {
    summary: "The signed-in token's role may not make this change (a viewer reads only).",
    hint: 'Sign in with an operator or admin token to change the fleet.',
  },
  CONSOLE_ROLE_NOT_ALLOWED: {
    summary:
      'Only admin, operator and viewer tokens may sign in to the console (not publisher or device tokens).',
    hint: 'Make a viewer token with `margo token create --role viewer --name NAME`.',
  },
  CONSOLE_NOT_FOUND: {
    summary: 'The console asked for a device, deployment, application, commit or route that does not exist.',
  },
  CONSOLE_BAD_REQUEST: {
    summary: 'The console request is malformed (body not JSON, too large, or a parameter out of range).',
  },
  CONSOLE_CSRF: {
    summary:
      'A changing console request came without the `x-margo-console: 1` header or from another origin, and was refused.',
    hint: 'Use the console itself; scripts send `x-margo-console: 1` (and no foreign Origin).',
  },
  CONSOLE_RATE_LIMITED: {
    summary: 'Too many wrong tokens came from this address; sign-in is refused for a while.',
    hint: 'Wait for the time in Retry-After, then sign in with a valid token.',
    retry: 'backoff',
  },
  CONSOLE_ASSETS_MISSING: {
    summary: "The console's built files (index.html and assets) are not installed with this margo.",
    hint: 'Build them with `npm run build` (package @margo-gitops/console); the JSON API under /ui/api works without them.',
  },
} as const satisfies CodeTable;
