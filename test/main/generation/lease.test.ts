import os from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { RunLease } from '../../../src/main/generation/lease';
import { getRun } from '../../../src/main/generation/runs';
import { storedRun } from '../../helpers/generation-run';

const leases: RunLease[] = [];
afterEach(() => {
  // Released before the store closes (helpers' afterEach hooks run after this file's).
  for (const l of leases.splice(0)) l.release('paused', null);
});

function setup() {
  const { store, runId } = storedRun({ count: 2, kinds: 'sts', languages: 'en' });
  return { db: store.db, runId };
}
const quiet = { lost() {}, cancelled() {}, paused() {} };

describe('RunLease', () => {
  it('one owner at a time: a live holder is named, a dead process on this host is taken over', () => {
    const { db, runId } = setup();
    const a = new RunLease(db, runId, `${os.hostname()}:${process.pid}:a`, 60_000);
    leases.push(a);
    a.acquire(quiet);
    expect(getRun(db, runId)).toMatchObject({ state: 'running', lease_owner: a.owner });
    const b = new RunLease(db, runId, `${os.hostname()}:${process.pid}:b`, 60_000);
    expect(() => b.acquire(quiet)).toThrow(/being worked on by another process .*:a/);
    // A pid that cannot be alive: its lease is free.
    db.prepare('UPDATE generation_runs SET lease_owner = ? WHERE id = ?').run(
      `${os.hostname()}:2147483646:x`,
      runId,
    );
    leases.push(b);
    b.acquire(quiet);
    expect(getRun(db, runId).lease_owner).toBe(b.owner);
    b.release('done', null);
    expect(getRun(db, runId)).toMatchObject({ state: 'done', lease_owner: null, lease_expires_at: null });
  });

  it('the renewal notices a cancel from another process, and a lease taken away', async () => {
    const { db, runId } = setup();
    const events: string[] = [];
    const l = new RunLease(db, runId, 'h:1:a', 150);
    leases.push(l);
    l.acquire({
      lost: () => events.push('lost'),
      cancelled: () => events.push('cancelled'),
      paused: () => events.push('paused'),
    });
    db.prepare(`UPDATE generation_runs SET state = 'cancelled' WHERE id = ?`).run(runId);
    while (!events.includes('cancelled')) await new Promise((r) => setTimeout(r, 10));
    expect(events).toContain('cancelled');
    db.prepare(`UPDATE generation_runs SET lease_owner = 'h:2:b' WHERE id = ?`).run(runId);
    while (!events.includes('lost')) await new Promise((r) => setTimeout(r, 10));
    expect(events).toContain('lost');
  });
});
