// Conformance of the revocation feed's log (Store.appendChange / readChanges), run on every store.
import type { FeedChange } from '../../lib/core/feed-change';
import type { StoreFactory, TestStore } from '../helpers/stores';

const revoked = (i: number): FeedChange => ({
  type: 'grant.revoked',
  grantId: `g${i}`,
  tenantId: 't1',
});

/**
 * @example describeChangeLog('memory', storeFactory('memory'));
 */
export function describeChangeLog(name: string, factory: StoreFactory): void {
  describe(`Change feed log: ${name}`, () => {
    let ts: TestStore;
    beforeAll(async () => {
      ts = await factory(`feed-${name}`);
    });
    afterAll(() => ts.close());

    test('changes read back in order after a position, each once, with the next position', async () => {
      const { store } = ts;
      const start = await store.readChanges(undefined, 0);
      expect(start).toMatchObject({ entries: [], gap: false });
      for (let i = 0; i < 3; i++) await store.appendChange(revoked(i));
      const batch = await store.readChanges(start.cursor, 0);
      expect(batch.gap).toBe(false);
      expect(batch.entries.map((e) => e.change)).toEqual([revoked(0), revoked(1), revoked(2)]);
      expect(new Set(batch.entries.map((e) => e.id)).size).toBe(3);
      expect(batch.cursor).toBe(batch.entries[2]?.id);
      // From the middle: only what came after.
      const rest = await store.readChanges(batch.entries[0]?.id, 0);
      expect(rest.entries.map((e) => e.change.grantId)).toEqual(['g1', 'g2']);
      // At the end: nothing, no gap, the same position.
      expect(await store.readChanges(batch.cursor, 0)).toEqual({
        entries: [],
        cursor: batch.cursor,
        gap: false,
      });
      // Every member survives the round trip.
      const full: FeedChange = {
        type: 'device_session.ended',
        tenantId: 't1',
        user: 'u'.repeat(22),
        device: 'dev-1',
      };
      await store.appendChange(full);
      expect((await store.readChanges(batch.cursor, 0)).entries[0]?.change).toEqual(full);
    });

    test('a position the log cannot resume is a gap: another epoch, past the end, malformed', async () => {
      const { store } = ts;
      const end = (await store.readChanges(undefined, 0)).cursor;
      const epoch = end.slice(0, end.lastIndexOf('.'));
      const n = Number(end.slice(end.lastIndexOf('.') + 1));
      for (const p of [`other.${n}`, `${epoch}.${n + 5}`, 'garbage', '', `${epoch}.-1`]) {
        const b = await store.readChanges(p, 0);
        expect(b).toEqual({ entries: [], cursor: end, gap: true });
      }
    });

    test('a waiting read wakes on the next change; with none it answers empty when the wait ends', async () => {
      const { store } = ts;
      const end = (await store.readChanges(undefined, 0)).cursor;
      // Waits far longer than the test may run: only a wake-up can make it pass.
      const waiting = store.readChanges(end, 20_000);
      setTimeout(() => void store.appendChange(revoked(100)), 50);
      const woke = await waiting;
      expect(woke.entries.map((e) => e.change.grantId)).toEqual(['g100']);
      const quiet = await store.readChanges(woke.cursor, 150);
      expect(quiet).toEqual({ entries: [], cursor: woke.cursor, gap: false });
    });

    test('50 concurrent appends: every one read back once', async () => {
      const { store } = ts;
      const end = (await store.readChanges(undefined, 0)).cursor;
      await Promise.all(Array.from({ length: 50 }, (_, i) => store.appendChange(revoked(200 + i))));
      const seen: string[] = [];
      let at = end;
      for (;;) {
        const b = await store.readChanges(at, 0);
        if (b.entries.length === 0) break;
        seen.push(...b.entries.map((e) => e.change.grantId as string));
        at = b.cursor;
      }
      expect(seen.sort()).toEqual(Array.from({ length: 50 }, (_, i) => `g${200 + i}`).sort());
    });

    test('a reader left behind by more than the cap gets a gap, never a silent skip', async () => {
      const { store } = ts;
      const behind = (await store.readChanges(undefined, 0)).cursor;
      for (let i = 0; i < 12_000; i += 500)
        await Promise.all(
          Array.from({ length: 500 }, (_, j) => store.appendChange(revoked(i + j))),
        );
      const b = await store.readChanges(behind, 0);
      expect(b.gap).toBe(true);
      expect(b.entries).toEqual([]);
      // The end it answers can be resumed.
      await store.appendChange(revoked(-1));
      const next = await store.readChanges(b.cursor, 0);
      expect(next).toMatchObject({ gap: false, entries: [{ change: revoked(-1) }] });
    }, 30_000);
  });
}
