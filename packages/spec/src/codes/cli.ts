import type { CodeTable } from './types.js';

/** Stable error codes owned by the cli area. Add entries; never rename or remove one. */
export const cliCodes = {
  CLI_NO_SERVER: {
    summary: 'The command needs a margo server, and none is configured.',
    hint: 'Run `margo init` on this machine, or pass --server URL --token TOKEN (or set MARGO_SERVER and MARGO_TOKEN).',
  },
  CLI_CONFIG_INVALID: {
    summary: 'The CLI configuration file could not be read.',
    hint: 'Fix or delete ~/.config/margo/config.json (or the file named by MARGO_CONFIG).',
  },
  CLI_DATA_DIR_EXISTS: {
    summary: '`margo init` refuses to overwrite an existing data folder.',
    hint: 'Choose another folder with --data, or remove the existing one if you really mean to start over.',
  },
  CLI_DATA_DIR_NOT_FOUND: {
    summary: 'The data folder does not exist or is not a margo data folder.',
    hint: 'Create one with `margo init --data DIR`, or pass the right --data.',
  },
  CLI_SERVER_UNREACHABLE: {
    summary: 'The margo server could not be reached.',
    hint: 'Check the server URL and that `margo serve` is running.',
    retry: 'backoff',
  },
  CLI_AUTH_FAILED: {
    summary: 'The server refused the token (unknown, revoked, or lacking the role for this action).',
    hint: 'Use a token with the right role (admin, publisher for `app publish`, operator for fleet changes).',
  },
  CLI_HTTP_ERROR: {
    summary: 'The server answered an HTTP request with an unexpected status.',
    retry: 'backoff',
  },
  CLI_GIT_FAILED: {
    summary: 'A git operation run by the CLI failed.',
    hint: 'Read the git output above; check the server URL and token.',
    retry: 'backoff',
  },
  CLI_PUSH_CONFLICT: {
    summary: 'The push kept losing to other writers of the same repository.',
    hint: 'Try again in a moment.',
    retry: 'later',
  },
  CLI_PUBLISH_REJECTED: {
    summary: 'The server refused the published application (its validation findings are shown above).',
    hint: 'Fix the findings, check the package with `margo validate DIR`, and publish again.',
  },
  CLI_PUBLISH_LINK: {
    summary:
      'Publishing refused a symbolic link or submodule: in the package, or on the path to <id>/<version>/ in the catalog.',
    hint: 'Replace links in the package with the files themselves; a link in the catalog was pushed by someone else: have an admin remove it.',
  },
  CLI_PUBLISH_EMPTY: {
    summary: 'Publishing produced no change in the catalog, so nothing was published.',
    hint: 'Check the catalog with `margo app show ID@VERSION`; report this if the package is not there.',
  },
  CLI_APP_DIR_INVALID: {
    summary:
      'The folder to publish is not an application package (no readable margo.yaml with id and version).',
    hint: 'Point at the folder that holds margo.yaml; check it with `margo validate DIR`.',
  },
  CLI_APP_EXISTS: {
    summary: 'This application version is already in the catalog; published versions are immutable.',
    hint: 'Raise the version in margo.yaml and publish again.',
  },
  CLI_APP_NOT_FOUND: {
    summary: 'No such application (or version) in the catalog.',
    hint: 'List what is published with `margo app list`.',
  },
  CLI_DEVICE_EXISTS: {
    summary: 'A device with this id is already in the fleet repository.',
    hint: 'Pick another id, or `margo device revoke ID` first.',
  },
  CLI_DEVICE_NOT_FOUND: {
    summary: 'No such device in the fleet repository.',
    hint: 'List devices with `margo device list`.',
  },
  CLI_DEPLOYMENT_NOT_FOUND: {
    summary: 'No such deployment in the fleet repository.',
    hint: 'List deployments with `margo status`.',
  },
  CLI_ROLLOUT_NOT_FOUND: {
    summary: 'No rollout of that name: the fleet repository has no `rollouts/<name>.json`.',
    hint: 'List rollouts with `margo rollout status`; a rollout starts when a deployment with `rollout:` changes.',
  },
  CLI_REVISION_NOT_FOUND: {
    summary: 'The revision to roll back to does not exist or does not hold this deployment.',
    hint: 'List the history with `git log -- deployments/NAME.yaml` in a clone of the fleet repository.',
  },
  CLI_NOTHING_TO_ROLLBACK: {
    summary: 'The deployment has no earlier change to roll back to.',
  },
  CLI_NOT_AVAILABLE: {
    summary: 'This build of margo lacks a component the command needs.',
    hint: 'Rebuild with `npm run build`; if it persists, report it.',
  },
  CLI_TIMEOUT: {
    summary: 'A wait ran out of time.',
    hint: 'Look at `margo status` for the reason; raise the timeout if the work is just slow.',
    retry: 'later',
  },
  CLI_AGENT_STATE_INVALID: {
    summary: 'The agent state folder holds no enrolment and no token was given.',
    hint: 'Start the agent once with --server URL --token-file FILE (or - for standard input) holding the enrolment string from `margo device add`.',
  },
  CLI_SELECTOR_MATCHES_NONE: {
    summary: "A deployment's label selector matches no device in the fleet repository.",
    hint: 'Check the labels with `margo device list`; `margo deploy --force` writes it anyway (devices labelled later join).',
  },
  METRICS_UNAUTHORIZED: {
    summary: '`GET /metrics` came without a valid token (none, unknown, revoked or expired).',
    hint: 'Scrape with `Authorization: Bearer <token>` (Prometheus: `authorization: {credentials_file: ...}`); `margo token create --role viewer --name prometheus` makes one.',
  },
  METRICS_RATE_LIMITED: {
    summary:
      'Too many wrong tokens (or malformed requests) came from this address; `/metrics` refuses it for a while.',
    hint: 'Wait for the Retry-After delay and check the token the scraper sends.',
    retry: 'later',
  },
  METRICS_FORBIDDEN: {
    summary: "The token's role may not read metrics (only admin, operator and viewer tokens may).",
    hint: 'Use a viewer token for Prometheus.',
  },
} as const satisfies CodeTable;
