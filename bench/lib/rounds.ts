/**
 * In-process micro-benchmarks of several builds side by side (bench/chat-micro.ts,
 * bench/transport-micro.ts): each variant's operation runs on `conns` concurrent workers, in short
 * rounds that alternate between the variants, so the host's noise falls on all of them alike.
 */

/** Runs `one` `count` times, `conns` at a time. */
export async function runConcurrent(one: () => Promise<void>, count: number, conns: number): Promise<void> {
  let left = count;
  const worker = async (): Promise<void> => {
    while (left-- > 0) await one();
  };
  await Promise.all(Array.from({ length: conns }, worker));
}

/** µs of this process's CPU per operation of each variant, one figure a round, sorted (fastest first). */
export async function alternatingRounds(
  ones: ReadonlyArray<() => Promise<void>>,
  n: number,
  rounds: number,
  conns: number,
): Promise<{ each: number; perOp: number[][] }> {
  const perOp: number[][] = ones.map(() => []);
  const each = Math.ceil(n / rounds);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < ones.length; k++) {
      const c0 = process.cpuUsage();
      await runConcurrent(ones[k]!, each, conns);
      const c = process.cpuUsage(c0);
      perOp[k]!.push((c.user + c.system) / each);
    }
  }
  for (const p of perOp) p.sort((a, b) => a - b);
  return { each, perOp };
}
