import fc from 'fast-check';

/** One edit of a byte string: what fuzz tests apply to valid input to make hostile input. */
export interface Mutation {
  kind: 'flip' | 'insert' | 'delete' | 'duplicate' | 'truncate';
  at: number;
  value: number;
}

/** Mutations that flip a byte, insert one of `inserts`, delete or duplicate a run, or truncate. */
export function mutation(
  inserts: fc.Arbitrary<number>,
  maxDelete: number,
  maxDuplicate: number,
): fc.Arbitrary<Mutation> {
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: inserts }),
    fc.record({
      kind: fc.constant('delete' as const),
      at: fc.nat(),
      value: fc.integer({ min: 1, max: maxDelete }),
    }),
    fc.record({
      kind: fc.constant('duplicate' as const),
      at: fc.nat(),
      value: fc.integer({ min: 1, max: maxDuplicate }),
    }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), value: fc.constant(0) }),
  );
}

export function mutate(buf: Buffer, m: Mutation): Buffer {
  const at = buf.length === 0 ? 0 : m.at % buf.length;
  switch (m.kind) {
    case 'flip': {
      const copy = Buffer.from(buf);
      if (copy.length > 0) copy[at] = copy[at]! ^ m.value;
      return copy;
    }
    case 'insert':
      return Buffer.concat([buf.subarray(0, at), Buffer.from([m.value]), buf.subarray(at)]);
    case 'delete':
      return Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.value)]);
    case 'duplicate':
      return Buffer.concat([buf.subarray(0, at + m.value), buf.subarray(at)]);
    default:
      return buf.subarray(0, at);
  }
}
