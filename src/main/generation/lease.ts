import os from 'node:os';
import { UserError } from '../errors';
import type { Db } from '../store';
import type { RunState } from './config';
import { getRun } from './runs';

const pidAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** What the lease reports while it is renewed: lost to another process, or a state set from outside. */
export interface LeaseEvents {
  lost(): void;
  cancelled(): void;
  paused(): void;
}

/**
 * The run's lease (generation_runs.lease_owner / lease_expires_at): one process works a run at a time.
 * Renewed every third of its TTL; the renewal also notices `runs cancel` / `runs pause` from another
 * process. A lease whose owner is a dead process on this host is taken over at once.
 */
export class RunLease {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Db,
    private readonly runId: string,
    readonly owner: string,
    private readonly ttlMs: number,
  ) {}

  /** Takes the lease, or throws a UserError naming the process that holds it. */
  acquire(events: LeaseEvents): void {
    const now = Date.now();
    this.db.transaction(() => {
      const r = getRun(this.db, this.runId);
      if (r.lease_owner && r.lease_owner !== this.owner && (r.lease_expires_at ?? 0) > now) {
        const [host, pid] = r.lease_owner.split(':');
        const dead = host === os.hostname() && Number(pid) > 0 && !pidAlive(Number(pid));
        if (!dead)
          throw new UserError(
            `run ${this.runId} is being worked on by another process (${r.lease_owner}, lease until ${new Date(r.lease_expires_at ?? 0).toISOString()}); wait for it to finish, or cancel it with \`embedsmith runs cancel ${this.runId}\``,
          );
      }
      this.db
        .prepare(
          `UPDATE generation_runs SET lease_owner = ?, lease_expires_at = ?, state = 'running', error = NULL,
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?`,
        )
        .run(this.owner, now + this.ttlMs, this.runId);
    })();
    this.timer = setInterval(() => this.renew(events), Math.max(50, this.ttlMs / 3));
    this.timer.unref();
  }

  private renew(events: LeaseEvents) {
    try {
      const r = this.db
        .prepare(
          `UPDATE generation_runs SET lease_expires_at = ? WHERE id = ? AND lease_owner = ? RETURNING state`,
        )
        .get(Date.now() + this.ttlMs, this.runId, this.owner) as { state: RunState } | undefined;
      if (!r) events.lost();
      else if (r.state === 'cancelled') events.cancelled();
      else if (r.state === 'paused') events.paused();
    } catch {
      // database busy: try again at the next tick
    }
  }

  /** Ends the lease with the run's final state (and error, if any). */
  release(state: RunState, error: string | null): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.db
      .prepare(
        `UPDATE generation_runs SET state = ?, error = ?, lease_owner = NULL, lease_expires_at = NULL,
           updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ? AND lease_owner = ?`,
      )
      .run(state, error, this.runId, this.owner);
  }
}
