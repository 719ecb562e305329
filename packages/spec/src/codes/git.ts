import type { CodeTable } from './types.js';

/** Stable error codes owned by the git area. Add entries; never rename or remove one. */
export const gitCodes = {
  GIT_REF_NOT_FOUND: {
    summary: 'A branch, tag or commit named in a Git operation does not exist.',
    hint: 'Check the ref name; list refs with `git ls-remote <url>`.',
  },
  GIT_CAS_CONFLICT: {
    summary: 'A ref moved since the writer last read it (another writer committed first).',
    hint: 'Re-read the branch and apply the change again (updateWithRetry does this).',
    retry: 'backoff',
  },
  GIT_RETRIES_EXHAUSTED: {
    summary: 'A compare-and-swap update kept losing to other writers and gave up.',
    hint: 'Lower the number of concurrent writers or raise the retry budget.',
    retry: 'later',
  },
  GIT_INVALID_PATH: {
    summary: 'A file path in a commit is not a clean relative path.',
    hint: 'Use forward slashes, no leading "/", no "." or ".." segments, no ".git" segment.',
  },
  GIT_COMMAND_FAILED: {
    summary: 'A git command or isomorphic-git operation failed.',
    hint: 'Read the message; the git repository may be corrupt or the disk full.',
    retry: 'backoff',
  },
  GIT_AUTH_FAILED: {
    summary: 'The Git server refused the credentials (missing, unknown, revoked or expired token).',
    hint: 'Check the token; issue a new one with `margo token issue` if it was revoked or rotated.',
  },
  GIT_ACCESS_DENIED: {
    summary: 'The token is valid but its role may not do this on this repository or branch.',
    hint: 'Devices may read only their own repository and push only its `status` branch; publishers push the catalog; operators push the fleet repository.',
  },
  GIT_RATE_LIMITED: {
    summary: 'Too many requests with one token in a short time.',
    hint: 'Wait for the Retry-After interval; lower the polling frequency.',
    retry: 'later',
  },
  GIT_REMOTE_UNREACHABLE: {
    summary: 'The Git server could not be reached or answered with an unexpected status.',
    hint: 'Check the URL, network and that the server runs.',
    retry: 'backoff',
  },
  GIT_PUSH_REJECTED: {
    summary: 'The Git server refused a push (validation findings, access rule, or non-fast-forward).',
    hint: 'Read the remote messages; fix the findings, fetch and rebase, or ask for the right role.',
  },
  GIT_NOT_FAST_FORWARD: {
    summary: 'A push would rewrite history that the server protects.',
    hint: 'Fetch, rebase your change on top and push again; history of the catalog cannot be rewritten.',
  },
  GIT_OBJECT_TOO_LARGE: {
    summary: 'A pushed file is larger than the server accepts.',
    hint: 'Keep large artefacts (images, charts) in a registry and reference them; or raise maxObjectBytes.',
  },
  GIT_PUSH_INVALID: {
    summary: 'A pushed file failed validation; the push was refused and nothing was stored.',
    hint: 'Fix each finding shown as path:line:col CODE message and push again.',
  },
  GIT_INVALID_REPO_ID: {
    summary: 'A repository or device id contains characters that are not allowed.',
    hint: 'A device id is 1-63 of letters, digits, ".", "_" and "-", starting with a letter or digit, without "..", not ending in .git or .lock.',
  },
  GIT_TOKEN_NOT_FOUND: {
    summary: 'No token record with this id exists.',
    hint: 'List tokens to find the id.',
  },
  GIT_SERVER_MISCONFIGURED: {
    summary: 'The embedded Git server cannot run (for example no `git` binary on the orchestrator host).',
    hint: 'Install git on the orchestrator host (devices do not need it).',
  },
  GIT_CATALOG_VERSION_IMMUTABLE: {
    summary: 'A push changed or deleted files of an application version already published in the catalog.',
    hint: 'Publish a new version instead; to withdraw a bad one, yank it (`margo app yank APP VERSION --reason ...`).',
  },
  GIT_CATALOG_PATH_MISMATCH: {
    summary:
      "A catalog margo.yaml declares an id or version that is not its folder's (<id>/<version>/margo.yaml).",
    hint: 'Move the files to <metadata.id>/<metadata.version>/ or correct metadata.id / metadata.version.',
  },
  GIT_CATALOG_YANK_INVALID: {
    summary:
      'A yank record (<app>/<version>/yanked.yaml) is malformed, names no published version, or was changed.',
    hint: 'Write it with `margo app yank APP VERSION --reason TEXT`; a yank is recorded once and never edited.',
  },
  GIT_LINK_REFUSED: {
    summary:
      'A push added a symbolic link (mode 120000) or a gitlink/submodule (mode 160000); the server accepts regular files only.',
    hint: 'Replace the link with the file it points to; submodules are not supported.',
  },
  GIT_STATUS_PATH_REFUSED: {
    summary:
      "A push to a device's status branch wrote a file that is not a status file, or a file too large.",
    hint: 'The status branch holds capabilities.json, observed.json, signatures.json and deployments/<id>.json only.',
  },
  GIT_STATUS_BRANCH_PROTECTED: {
    summary: "A push tried to delete a device's status branch.",
    hint: 'The status branch is the record of what the device reported; it can be rewritten by the device but not deleted.',
  },
  GIT_PUSH_TOO_LARGE: {
    summary: 'A push carried more objects, or a longer ref update list, than the server accepts.',
    hint: 'Push less at once; device status pushes are small by design.',
  },
  GIT_BAD_REQUEST: {
    summary:
      'The Git server or catalog file route received a malformed request (bad URL encoding, corrupt gzip body, bad protocol data).',
    hint: 'Use a stock git client; repeated malformed requests from one address are rate limited.',
  },
  GIT_CATALOG_FILE_FORBIDDEN: {
    summary: "A device token asked for a catalog file that its device's desired state does not reference.",
    hint: 'Devices may download only the packages their own deployments name; use an operator or admin token to browse the catalog.',
  },
} as const satisfies CodeTable;
