/**
 * The status reports the orchestrator holds per device: read (and, with a verifier, checked) from
 * the `status` branch, with the highest signed sequence number accepted per device.
 */
import type { Logger } from 'pino';
import {
  CAPABILITIES_FILE,
  readDeviceStatus,
  type DeviceReport,
  type StatusVerifier,
} from './device-repo.js';

export class ReportBook {
  /** The last report read per device. */
  readonly reports = new Map<string, DeviceReport>();
  /** Highest signed status sequence number accepted per device (persisted as DeviceState.statusSeq). */
  readonly statusSeq = new Map<string, bigint>();

  constructor(
    private readonly log: Logger,
    private readonly verifier: StatusVerifier | undefined,
    /** Called when a higher sequence number is accepted (to persist it). */
    private readonly onSeq: (deviceId: string, seq: bigint) => void,
  ) {}

  /** Reads (and, with a verifier, checks) a status report; problems are logged once per report. */
  async read(id: string, gitdir: string, oid: string | null): Promise<DeviceReport> {
    const v = this.verifier;
    const minSeq = this.statusSeq.get(id) ?? 0n;
    const report = await readDeviceStatus(gitdir, oid, v ? { deviceId: id, verifier: v, minSeq } : undefined);
    // An ignored file does not erase what the device last reported genuinely (while this process runs).
    const prev = this.reports.get(id);
    if (report.replayed) {
      // Old signed status pushed again: the last accepted report stands, flagged.
      this.logIgnored(id, oid, report);
      return {
        ...(prev ?? { statuses: new Map() }),
        oid,
        problems: report.problems,
        replayed: true,
      };
    }
    if (report.seq !== undefined && report.seq > minSeq) {
      this.statusSeq.set(id, report.seq);
      this.onSeq(id, report.seq);
    }
    if (
      !report.capabilities &&
      prev?.capabilities &&
      report.problems.some((p) => p.path === CAPABILITIES_FILE)
    )
      report.capabilities = prev.capabilities;
    this.logIgnored(id, oid, report);
    return report;
  }

  private logIgnored(id: string, oid: string | null, report: DeviceReport): void {
    for (const p of report.problems)
      this.log.warn(
        { deviceId: id, statusCommit: oid, path: p.path, code: p.code, reason: p.message },
        'status file ignored',
      );
  }
}
