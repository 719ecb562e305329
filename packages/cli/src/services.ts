import type { Connection } from './client-config.js';

export type TokenRole = 'admin' | 'publisher' | 'operator';

export interface RunningServer {
  /** Base URL clients use, e.g. http://127.0.0.1:8470 */
  url: string;
  /** What is served where, for the start-up banner. */
  endpoints: Record<string, string>;
  close(): Promise<void>;
}

export interface RunningAgent {
  deviceId: string;
  stop(): Promise<void>;
}

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * What the CLI needs from the other packages. `wiring.ts` provides the real implementations;
 * tests pass stubs. Each method is one seam, so a command stays a thin shell.
 */
export interface Services {
  /** trust: root CA + desired-state signing key into `pkiDir` (owner-only files); the CA's SHA-256 (hex). */
  createPki(pkiDir: string): Promise<{ caFingerprint: string } | void>;
  /** git: bare catalog + fleet repositories under `<dataDir>/repos`, seeded from `templateDir`. */
  createRepos(dataDir: string, templateDir: string): Promise<void>;
  /** git TokenStore: a new token for `role`, stored hashed under `<dataDir>/auth`; returns the plaintext once. */
  issueToken(dataDir: string, role: TokenRole, name: string): Promise<string>;
  /**
   * trust/onboarding: a one-time enrolment string for `deviceId`
   * (`mge1.<deviceId>.<tokenId>.<secret>.<caFp>`) and the root CA fingerprint it pins (hex).
   */
  issueEnrolmentToken(
    conn: Connection,
    deviceId: string,
  ): Promise<{ token: string; expiresAt?: string; caFingerprint?: string }>;
  /** trust + git: invalidate the device's certificate and Git token now. */
  revokeDevice(conn: Connection, deviceId: string): Promise<void>;
  /** trust: seal a secret value to one device's certificate (`sealed:v1:<base64>`). */
  sealSecret(conn: Connection, deviceId: string, value: string): Promise<string>;
  /** Everything of `margo serve` on one node:http server; resolves once listening. */
  startServer(opts: {
    dataDir: string;
    listen: string;
    publicUrl?: string;
    log: Logger;
    /** File for the JSON log lines of the libraries (default: stderr). */
    logTo?: string;
    /** The Workload Management API's mTLS listener (host:port, `off` for none). */
    api?: { listen: string; tls12?: boolean; required?: boolean };
    /** Fleet-wide cap on devices changing at once (overrides the data folder's setting). */
    maxConcurrentChanges?: number;
    /** OTLP/HTTP traces URL: reconcile passes and rollout steps are exported there (none: no tracing). */
    otlpTracesUrl?: string;
  }): Promise<RunningServer>;
  /** The device agent: enrols on first start (token = enrolment token), resumes later. */
  startAgent(opts: {
    server?: string;
    token?: string;
    stateDir: string;
    log: Logger;
    /** File for the agent's JSON log lines (default: stderr). */
    logTo?: string;
  }): Promise<RunningAgent>;
  /** Fleet status roll-up as JSON (from the server's status API). */
  fetchStatus(conn: Connection, name?: string): Promise<unknown>;
}
