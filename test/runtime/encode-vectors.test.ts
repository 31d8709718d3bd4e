/**
 * An embeddings answer in the encoding the client asked for, whatever the upstream sent (an
 * OpenAI-compatible server may ignore `encoding_format`): float lists as OpenAI's base64 (the
 * little-endian float32s), and base64 back to float lists.
 */
import { describe, expect, it } from 'vitest';
import { encodeVectors } from '../../src/runtime/attempt.js';

const b64 = (xs: number[]): string => {
  const b = Buffer.alloc(xs.length * 4);
  xs.forEach((x, i) => b.writeFloatLE(x, i * 4));
  return b.toString('base64');
};

describe('encodeVectors', () => {
  it('floats → base64 when base64 was asked, and back', () => {
    const data = [{ index: 0, embedding: [0.5, -1.25, 3] }];
    expect(encodeVectors(data, 'base64')).toBe(true);
    expect(data[0]!.embedding).toBe(b64([0.5, -1.25, 3]));
    expect(encodeVectors(data, 'float')).toBe(true);
    expect(data[0]!.embedding).toEqual([0.5, -1.25, 3]);
  });

  it('leaves what is already in the asked encoding, and what it cannot read, as it is', () => {
    const floats = [{ embedding: [0.1] }];
    expect(encodeVectors(floats, 'float')).toBe(false);
    expect(floats[0]!.embedding).toEqual([0.1]);
    const text = [{ embedding: b64([1]) }];
    expect(encodeVectors(text, 'base64')).toBe(false);
    // Not a whole number of float32s: not decoded (the client gets what was sent).
    const odd = [{ embedding: Buffer.from([1, 2, 3]).toString('base64') }, null, { embedding: ['x'] }];
    expect(encodeVectors(odd, 'float')).toBe(false);
    expect(encodeVectors(odd, 'base64')).toBe(false);
  });
});
