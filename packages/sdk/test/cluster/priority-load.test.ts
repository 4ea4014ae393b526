import { strict as assert } from 'node:assert';
import { availability, priorityLoads } from '../../src/cluster/priority-load.js';

const round = (xs: readonly number[]): number[] => xs.map((x) => Math.round(x * 1000) / 1000);

describe('priorityLoads', () => {
  // Health per priority is availability(healthy, total, 1.4), as Envoy computes it.
  const table: { name: string; health: number[]; want: number[] }[] = [
    { name: 'sends everything to a fully healthy P0', health: [1, 1], want: [1, 0] },
    {
      name: 'keeps everything on P0 at 1/1.4 healthy',
      health: [availability(5, 7, 1.4), 1],
      want: [1, 0],
    },
    {
      name: 'spills 30% to P1 when P0 is 50% healthy',
      health: [availability(5, 10, 1.4), 1],
      want: [0.7, 0.3],
    },
    {
      name: 'spills across three priorities',
      health: [availability(2, 10, 1.4), availability(2, 10, 1.4), 1],
      want: [0.28, 0.28, 0.44],
    },
    {
      name: 'normalises when the total health is below 100%',
      health: [availability(5, 10, 1.4), availability(2, 10, 1.4)],
      want: [0.714, 0.286],
    },
    { name: 'sends everything to P1 when P0 has nothing available', health: [0, 1], want: [0, 1] },
    { name: 'gives nothing anywhere when nothing is available', health: [0, 0], want: [0, 0] },
  ];
  for (const row of table) {
    it(row.name, () => {
      assert.deepEqual(round(priorityLoads(row.health)), row.want);
    });
  }
});

describe('availability', () => {
  it('is min(1, factor × available / total), and 0 for an empty group', () => {
    assert.equal(availability(1, 2, 1.4), 0.7);
    assert.equal(availability(3, 4, 1.4), 1);
    assert.equal(availability(0, 0, 1.4), 0);
  });
});
