import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '@bottleneck/shared/adapters/memory-bus';
import { FolderStore } from '@bottleneck/shared/adapters/folder-store';
import { partitionOf } from '@bottleneck/shared';
import { fireSlot } from './scheduler.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/** A month's three files in incoming/ (their content does not matter to the schedule). */
async function drop(store: FolderStore, partition: string, names = ['erp', 'web', 'liaison']) {
  for (const n of names) await store.put(`incoming/${partition}/${n}.xlsx`, 'x');
}

describe('the monthly schedule', () => {
  it("gives a slot the month it falls in, in the schedule's time zone", () => {
    expect(partitionOf(new Date('2026-11-15T08:00:00Z'), 'Europe/Paris')).toBe('2026-11');
    // 23:30 UTC on 31 October is already November in Paris.
    expect(partitionOf(new Date('2026-10-31T23:30:00Z'), 'Europe/Paris')).toBe('2026-11');
    expect(partitionOf(new Date('2026-10-31T23:30:00Z'), 'UTC')).toBe('2026-10');
  });

  it('fires each slot once, whatever the number of replicas asking', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bn-sched-'));
    dirs.push(dir);
    const store = new FolderStore(dir);
    const bus = new MemoryBus();
    const slot = new Date('2026-11-15T08:00:00Z');
    await drop(store, '2026-11');
    await drop(store, '2026-12');
    const results = await Promise.all([1, 2, 3].map(() => fireSlot(store, bus, slot, 'Europe/Paris')));
    expect(results.filter(Boolean)).toHaveLength(1);
    const triggers = bus.messages().map((m) => m.event);
    expect(triggers).toHaveLength(1);
    expect(triggers[0]).toMatchObject({
      type: 'trigger',
      partition: '2026-11',
      runId: results.find(Boolean)?.runId,
      payload: { source: 'schedule' },
    });
    expect((await fireSlot(store, bus, new Date('2026-12-15T08:00:00Z'), 'Europe/Paris'))?.runId).toMatch(/^2026-12-/);
  });

  it('a month with a file missing is not run: the slot records it as waiting for files, or late past the due day', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bn-sched-'));
    dirs.push(dir);
    const store = new FolderStore(dir);
    const bus = new MemoryBus();
    await drop(store, '2026-11', ['erp', 'web']);
    const slot = new Date('2026-11-15T08:00:00Z');
    expect(await fireSlot(store, bus, slot, 'Europe/Paris', new Date('2026-11-15T08:00:00Z'), { dueDay: 5 })).toEqual({
      partition: '2026-11',
      runId: null,
      waiting: {
        missing: ['liaison'],
        late: false,
        words: 'waiting for files: liaison.xlsx missing; not run (the month runs once its files arrive)',
      },
    });
    expect(bus.messages()).toHaveLength(0);
    // Once: a second replica, or a restart, finds the slot's record.
    expect(await fireSlot(store, bus, slot, 'Europe/Paris', new Date('2026-11-15T08:00:01Z'))).toBeNull();
    const claim = JSON.parse(
      (await store.get('state/schedule/2026-11/2026-11-15T08-00-00-000Z.json')).toString('utf8'),
    );
    expect(claim).toMatchObject({ runId: null, outcome: 'waiting-for-files', missing: ['liaison'] });
    // A catch-up after the due day (5 December, Paris): late.
    const late = await fireSlot(
      store,
      bus,
      new Date('2026-11-16T08:00:00Z'),
      'Europe/Paris',
      new Date('2026-12-05T23:00:00Z'),
      { dueDay: 5 },
    );
    expect(late).toMatchObject({ runId: null, waiting: { late: true, missing: ['liaison'] } });
    expect(bus.messages()).toHaveLength(0);
  });
});

describe('the schedule at start', () => {
  async function runtime(dir: string, bus: MemoryBus) {
    const { silentLogger } = await import('@bottleneck/shared/stage/context');
    return {
      store: new FolderStore(dir),
      bus,
      log: silentLogger as never,
      env: {
        KAFKA_BROKERS: '127.0.0.1:1',
        S3_BUCKET: 'unused',
        BN_SCHEDULE_CRON: '0 9 15 * *',
        BN_SCHEDULE_TZ: 'Europe/Paris',
      },
    } as never;
  }

  it('does not fire the past on a first deployment, fires a missed slot once after downtime', async () => {
    const { startScheduler } = await import('./scheduler.js');
    const dir = await mkdtemp(join(tmpdir(), 'bn-sched-start-'));
    dirs.push(dir);
    const bus = new MemoryBus();
    // First deployment on 26 November: the 15 November slot is in the past, nothing fires.
    let s = await startScheduler(await runtime(dir, bus), () => new Date('2026-11-26T10:00:00Z'));
    await s.stop();
    expect(bus.messages()).toHaveLength(0);
    // The schedule has fired before (October's slot), then the service was down over 15 November.
    await drop(new FolderStore(dir), '2026-10');
    await drop(new FolderStore(dir), '2026-11');
    await fireSlot(new FolderStore(dir), bus, new Date('2026-10-15T07:00:00Z'), 'Europe/Paris');
    s = await startScheduler(await runtime(dir, bus), () => new Date('2026-11-26T10:00:00Z'));
    await s.stop();
    s = await startScheduler(await runtime(dir, bus), () => new Date('2026-11-26T10:05:00Z'));
    await s.stop();
    expect(bus.messages().map((m) => m.event.partition)).toEqual(['2026-10', '2026-11']);
  });
});

/** A publisher's runtime over a fresh folder store and an in-memory bus, the schedule monthly on the 15th at 09:00 UTC. */
async function monthlyRuntime(prefix: string) {
  const { silentLogger } = await import('@bottleneck/shared/stage/context');
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  const store = new FolderStore(dir);
  const bus = new MemoryBus();
  const rt = {
    store,
    bus,
    log: silentLogger as never,
    env: { KAFKA_BROKERS: '127.0.0.1:1', S3_BUCKET: 'unused', BN_SCHEDULE_CRON: '0 9 15 * *', BN_SCHEDULE_TZ: 'UTC' },
  } as never;
  return { store, bus, rt };
}

describe('the schedule paused from the console', () => {
  it('skips a slot while paused (claimed as skipped: no catch-up fires it later), and records each tick for the sensors page', async () => {
    const { startScheduler } = await import('./scheduler.js');
    const { setSchedulePaused, readSensors } = await import('@bottleneck/shared/catalog/sensors');
    const { store, bus, rt } = await monthlyRuntime('bn-sched-pause-');
    // The schedule fired in October; paused before the 15 November slot, which the restart would catch up.
    for (const m of ['2026-10', '2026-11', '2026-12']) await drop(store, m);
    await fireSlot(store, bus, new Date('2026-10-15T09:00:00Z'), 'UTC');
    await setSchedulePaused(store, true, new Date('2026-11-01T00:00:00Z'));
    let s = await startScheduler(rt, () => new Date('2026-11-26T10:00:00Z'));
    await s.stop();
    expect(bus.messages().map((m) => m.event.partition)).toEqual(['2026-10']);
    const paused = (await readSensors(store)).schedule;
    expect(paused).toMatchObject({
      cron: '0 9 15 * *',
      timeZone: 'UTC',
      paused: true,
      nextTick: '2026-12-15T09:00:00.000Z',
      lastTick: { slot: '2026-11-15T09:00:00.000Z', did: 'paused' },
    });
    // Resumed: the skipped slot stays skipped; the next one fires.
    await setSchedulePaused(store, false, new Date('2026-11-27T00:00:00Z'));
    s = await startScheduler(rt, () => new Date('2026-11-27T10:00:00Z'));
    await s.stop();
    expect(bus.messages().map((m) => m.event.partition)).toEqual(['2026-10']);
    s = await startScheduler(rt, () => new Date('2026-12-16T10:00:00Z'));
    await s.stop();
    expect(bus.messages().map((m) => m.event.partition)).toEqual(['2026-10', '2026-12']);
    expect((await readSensors(store)).schedule).toMatchObject({
      paused: false,
      lastTick: { did: 'triggered', partition: '2026-12', runId: bus.messages()[1]!.event.runId },
    });
  });

  it('records a slot whose month is missing a file as waiting for files, in words, for the sensors page', async () => {
    const { startScheduler } = await import('./scheduler.js');
    const { readSensors } = await import('@bottleneck/shared/catalog/sensors');
    const { store, bus, rt } = await monthlyRuntime('bn-sched-wait-');
    await fireSlot(store, bus, new Date('2026-10-15T09:00:00Z'), 'UTC');
    await drop(store, '2026-11', ['erp', 'web']);
    const s = await startScheduler(rt, () => new Date('2026-11-26T10:00:00Z'));
    await s.stop();
    expect(bus.messages()).toEqual([]);
    expect((await readSensors(store)).schedule?.lastTick).toMatchObject({
      slot: '2026-11-15T09:00:00.000Z',
      did: 'waiting for files',
      partition: '2026-11',
      words: expect.stringContaining('liaison.xlsx'),
    });
  });
});
