/**
 * The one Git interface margo-gitops needs. A store is bound to one local repository (bare or with
 * a work tree); every write goes to the object database and refs only, never to a work tree.
 */

/** Token credentials for a Git server. `scheme: 'basic'` (default) sends `username:token` as HTTP Basic, `bearer` sends `Bearer <token>`. */
export interface GitAuth {
  token: string;
  /** User name for Basic auth; any value works on the embedded server. Default `margo`. */
  username?: string;
  scheme?: 'basic' | 'bearer';
}

export interface RemoteOptions {
  auth?: GitAuth;
  /** Branch or full ref to transfer. Default `main`. */
  ref?: string;
  /** Shallow depth (fetch/clone only). */
  depth?: number;
  /** Extra HTTP headers. */
  headers?: Record<string, string>;
}

export interface FetchOptions extends RemoteOptions {
  /** Local ref the fetched commit is stored at (force-updated). Default: the same ref name as the remote one. */
  into?: string;
}

export interface FetchResult {
  /** The fetched commit, or null when the remote has no such ref. */
  oid: string | null;
  /** True when the local ref moved. */
  changed: boolean;
}

export interface PushOptions {
  auth?: GitAuth;
  /** Remote ref name; default the same as the local one. */
  remoteRef?: string;
  force?: boolean;
  headers?: Record<string, string>;
}

export interface TreeEntry {
  oid: string;
  /** Octal mode string as git prints it: `100644`, `100755`, `120000`. */
  mode: string;
}

export interface Author {
  name: string;
  email: string;
  /** Seconds since the epoch; default now. */
  timestamp?: number;
  /** Minutes (git's sign convention: -60 = UTC+1); default 0. */
  timezoneOffset?: number;
}

/** A change set: path -> new content, or null to delete the file. */
export type FileChanges = Map<string, Buffer | string | null>;

export interface CommitFilesInput {
  /** Branch (`main`) or full ref (`refs/heads/main`). */
  ref: string;
  /** Compare-and-swap: the commit the writer last saw at `ref`; null = the ref must not exist yet. */
  expectedOid: string | null;
  changes: FileChanges;
  message: string;
  author: Author;
  /** Appended to the message as `Key: value` trailer lines. */
  trailers?: Record<string, string>;
}

export interface CommitResult {
  /** The new commit, or the unchanged current one when `changed` is false. */
  oid: string;
  changed: boolean;
}

export interface CompactOptions {
  /** Number of newest commits to keep; the oldest kept one becomes a root commit. At least 1. */
  keep: number;
  /** Compare-and-swap guard; default the value read at the start. */
  expectedOid?: string;
}

export interface CompactResult {
  oid: string;
  /** Number of commits no longer reachable from the ref (0 = nothing to do). */
  dropped: number;
}

export interface GitStore {
  /** The repository folder (a bare repository or a work tree containing `.git`). */
  readonly dir: string;
  /** Creates the repository (bare by default, HEAD -> `defaultBranch`). No-op when it exists. */
  init(opts?: { bare?: boolean; defaultBranch?: string }): Promise<void>;
  /** Creates the repository and fetches `ref` from `url` into the same local branch; HEAD points at it. */
  clone(url: string, opts?: RemoteOptions): Promise<FetchResult>;
  /** Fetches `ref` from `url` into the local ref `into` (default: the same name), force-updating it. */
  fetch(url: string, opts?: FetchOptions): Promise<FetchResult>;
  /** Pushes the local `ref` to `url`. Throws GIT_PUSH_REJECTED (with the server's messages) when refused. */
  push(url: string, ref: string, opts?: PushOptions): Promise<void>;
  /** Commit oid of a branch, full ref, `HEAD` or oid; null when it does not exist. */
  resolveRef(ref: string): Promise<string | null>;
  /** Every ref except HEAD: full name -> commit oid. */
  listRefs(): Promise<Map<string, string>>;
  /** File content at a ref, or null when the path does not exist there. Throws GIT_REF_NOT_FOUND for a missing ref. */
  readFile(ref: string, path: string): Promise<Buffer | null>;
  /** All files (recursive) at a ref, optionally only those under `prefix`. */
  readTree(ref: string, prefix?: string): Promise<Map<string, TreeEntry>>;
  /** Like readTree, with contents. */
  readFiles(ref: string, prefix?: string): Promise<Map<string, Buffer>>;
  /**
   * Every entry of the tree at a ref that is not a folder, with its mode: files (100644, 100755)
   * and the entries readTree leaves out or cannot tell apart by content, symlinks (120000) and
   * gitlinks (160000, `oid` is a commit). For readers that must refuse what is not a plain file.
   */
  listEntries(ref: string): Promise<Map<string, TreeEntry>>;
  /** Writes one commit with the changes and moves the ref by compare-and-swap. */
  commitFiles(input: CommitFilesInput): Promise<CommitResult>;
  /** Squashes all but the newest `keep` commits of a branch (first-parent chain) into a root commit. */
  compact(ref: string, opts: CompactOptions): Promise<CompactResult>;
}
