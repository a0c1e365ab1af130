import fc from 'fast-check';
import { expect, it } from 'vitest';
import { Deque } from '../src/core/deque.js';

it('keeps FIFO order and stable sequence numbers while growing and wrapping around', () => {
  const d = new Deque<number>();
  const seqs: number[] = [];
  for (let i = 0; i < 10; i++) seqs.push(d.push(i));
  expect(seqs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  expect([d.shift(), d.shift(), d.shift()]).toEqual([0, 1, 2]);
  for (let i = 10; i < 20; i++) d.push(i);
  expect(d.at(2)).toBeUndefined();
  expect(d.at(3)).toBe(3);
  expect(d.at(19)).toBe(19);
  d.set(5, undefined);
  d.set(2, 99); // already shifted out: ignored
  const out: (number | undefined)[] = [];
  while (d.size > 0) out.push(d.shift());
  expect(out).toEqual([3, 4, undefined, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
});

it('behaves like an array model under random pushes, shifts and sets', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.constant('shift'), fc.integer({ min: 0, max: 1000 }), fc.tuple(fc.nat(40), fc.integer())), { maxLength: 300 }), (ops) => {
      const d = new Deque<number>();
      const model: { seq: number; value: number | undefined }[] = [];
      let next = 0;
      for (const op of ops) {
        if (op === 'shift') {
          if (model.length === 0) continue;
          expect(d.shift()).toBe(model.shift()?.value);
        } else if (typeof op === 'number') {
          expect(d.push(op)).toBe(next);
          model.push({ seq: next++, value: op });
        } else {
          const entry = model[op[0] % Math.max(1, model.length)];
          if (entry === undefined) continue;
          d.set(entry.seq, op[1]);
          entry.value = op[1];
        }
        expect(d.size).toBe(model.length);
        for (const { seq, value } of model) expect(d.at(seq)).toBe(value);
      }
    }),
    { numRuns: 300 },
  );
});
