import { bucketHoldings, parseBatchKey, uncoveredRanges, type ListedBatch } from './reconcile';

const W = '87f528b3-dd1e-481a-af12-373bc8df71f8';
const V = '0b7e2c1a-5f3d-4b8e-9a61-2d4c8f0e7a13';

/** A manifest and object pair as the bucket lists them, filed under `hour`. */
function batch(writer: string, first: number, last: number, hour = '2026/11/24/05'): ListedBatch[] {
  const name = `${hour}/${writer}-${first}-${last}`;
  return [
    { writerId: writer, firstSeq: first, lastSeq: last, name, key: `gatehouse/manifests/${name}.json` },
    { writerId: writer, firstSeq: first, lastSeq: last, name, key: `gatehouse/audit/${name}.jsonl.gz` },
  ];
}

describe('reconciler: reading the bucket', () => {
  it.each([
    [`manifests/2026/11/24/05/${W}-8-12.json`, { writerId: W, firstSeq: 8, lastSeq: 12 }],
    [`p/audit/2026/11/24/05/${W}-1-1000.jsonl.gz`, { writerId: W, firstSeq: 1, lastSeq: 1000 }],
  ])('reads the batch %s names', (key, expected) => {
    expect(parseBatchKey(key)).toMatchObject({ ...expected, key, name: expect.stringMatching(/^2026\//) });
  });

  it.each([
    ['a checkpoint', 'checkpoints/000000000001.json'],
    ['a key without an hour', `manifests/${W}-1-2.json`],
    ['another file', `audit/2026/11/24/05/${W}-1-2.csv`],
  ])('ignores %s', (_what, key) => {
    expect(parseBatchKey(key)).toBeUndefined();
  });

  it('holds a batch only when its manifest and its object are both listed, and merges adjacent ranges', () => {
    const [m1, o1] = batch(W, 1, 5);
    const [m2, o2] = batch(W, 6, 10, '2026/11/24/06');
    const [m3] = batch(W, 11, 15);
    const [, o4] = batch(W, 16, 20);
    const [m5, o5] = batch(V, 3, 4);
    const holdings = bucketHoldings({
      manifests: [m2, m1, m3, m5].filter((b): b is ListedBatch => b !== undefined),
      objects: [o1, o2, o4, o5].filter((b): b is ListedBatch => b !== undefined),
    });
    expect(holdings).toEqual(
      new Map([
        [W, [[1, 10]]],
        [V, [[3, 4]]],
      ]),
    );
  });
});

describe('reconciler: ranges a sink lacks', () => {
  it.each<[string, Array<[number, number]>, number, number, Array<[number, number]>]>([
    ['nothing held', [], 1, 10, [[1, 10]]],
    ['everything held', [[1, 10]], 1, 10, []],
    ['held beyond the period', [[1, 100]], 20, 30, []],
    [
      'a hole in the middle',
      [
        [1, 4],
        [8, 10],
      ],
      1,
      10,
      [[5, 7]],
    ],
    [
      'the head and the tail',
      [[3, 7]],
      1,
      10,
      [
        [1, 2],
        [8, 10],
      ],
    ],
    [
      'several holes',
      [
        [2, 2],
        [4, 4],
        [6, 6],
      ],
      1,
      7,
      [
        [1, 1],
        [3, 3],
        [5, 5],
        [7, 7],
      ],
    ],
    [
      'intervals outside the period',
      [
        [1, 3],
        [20, 30],
      ],
      5,
      10,
      [[5, 10]],
    ],
  ])('%s', (_what, held, first, last, expected) => {
    expect(uncoveredRanges(held, first, last)).toEqual(expected);
  });
});
