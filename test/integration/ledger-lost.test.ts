/**
 * The SQLite ledger's directory removed while the sidecar serves from it (an operator's `rm -rf`):
 * its rows went on into a file nothing could find again, `/readyz` said ready, and a restart made
 * a new, empty ledger: every budget started from nothing, the spend gone. Now the sidecar finds it
 * within a second or so, restores the file at its path from the open database, logs where, goes
 * not ready, refuses new requests (503 storage_unavailable), and a restart has every row.
 */
import { dirname } from 'node:path';
import { existsSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSidecar, startSimulatorProc, testConfig, type SidecarHandle, type SimHandle } from './harness.js';
import { ledgerFileOf, ledgerRow } from './ledger-row.js';

let sim: SimHandle;
let sc: SidecarHandle | null = null;

beforeAll(async () => {
  sim = await startSimulatorProc({ defaults: { ttftMs: 1, tokenGapMs: 0, outputTokens: 5 } });
});

afterAll(async () => {
  await sc?.stop();
  await sim?.stop();
});

const spentUsd = async (h: SidecarHandle): Promise<number> =>
  ((await (await fetch(`${h.url}/switchyard/spend?group_by=model`)).json()) as { total: { usd: number } }).total.usd;

describe('the ledger directory removed while serving', () => {
  it('is found: not ready, new requests refused with 503 storage_unavailable, the rows restored at the path, and a restart has all of them', async () => {
    const cfg = testConfig(sim.url);
    const file = ledgerFileOf(cfg);
    sc = await startSidecar(cfg);
    for (let i = 0; i < 3; i++) await sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: `hello ${i}` }] });
    const before = await spentUsd(sc);
    expect(before).toBeGreaterThan(0);
    rmSync(dirname(file), { recursive: true, force: true });
    // Found within the check's period: polled, bounded, not slept for.
    const deadline = Date.now() + 15_000;
    let ready = await fetch(`${sc.url}/readyz`);
    while (ready.status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      ready = await fetch(`${sc.url}/readyz`);
    }
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reason: string }).reason).toContain('the ledger file was removed or replaced while serving');
    await sc.waitForOutput(`the ledger file ${file} was removed while switchyard was serving from it: its rows are restored there`);
    expect(existsSync(file)).toBe(true);
    const refused = await sc.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'again' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect((refused as InstanceType<typeof OpenAI.APIError>).code).toBe('storage_unavailable');
    expect(await sc.stop()).toBe(0);
    // A restart on the same config finds every row (it found an empty ledger: spent 0).
    sc = await startSidecar(cfg, {}, sc.configFile);
    expect(await spentUsd(sc)).toBe(before);
    expect((await fetch(`${sc.url}/readyz`)).status).toBe(200);
  });
});

describe('a refusal that cost nothing while the ledger cannot commit (a lock, a full disk)', () => {
  it('is answered at once, its row committed once the ledger can write (it waited with the billed rows: a full disk held a 503 until the client gave up)', async () => {
    const cfg = testConfig(sim.url);
    const file = ledgerFileOf(cfg);
    const h = await startSidecar(cfg);
    const other = new Database(file);
    try {
      other.exec('BEGIN EXCLUSIVE'); // an operator's sqlite3 session, a backup
      // A billed request: its answer waits for its row.
      const billed = h.client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'user', content: 'hello' }] });
      const deadline = Date.now() + 15_000;
      while ((await fetch(`${h.url}/readyz`)).status === 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect((await fetch(`${h.url}/readyz`)).status).toBe(503);
      const refused = await h.client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect((refused as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
      const id = (refused as InstanceType<typeof OpenAI.APIError>).headers?.get('x-request-id') ?? null;
      other.exec('COMMIT');
      expect((await billed).choices[0]!.message.content).toBeTruthy();
      const t0 = Date.now();
      while (ledgerRow(file, id) === undefined && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
      expect(ledgerRow(file, id)).toMatchObject({ status: 400, cost_nano: 0, error_code: 'model_not_found' });
    } finally {
      if (other.inTransaction) other.exec('ROLLBACK');
      other.close();
      await h.stop();
    }
  });
});

/** A budget limit at or below what its period already spent, at start-up: a reload said so; a start on the same file said nothing. */
describe('start-up with a budget already spent', () => {
  it('warns that every request it covers is refused until it resets', async () => {
    const cfg = testConfig(sim.url, { budget: { limits: [{ scope: 'global', period: 'day', usd: 100 }] } });
    let h = await startSidecar(cfg);
    await h.client.chat.completions.create({ model: 'gpt-4.1', max_tokens: 5, messages: [{ role: 'user', content: 'hello' }] });
    expect(await h.stop()).toBe(0);
    cfg.budget = { limits: [{ scope: 'global', period: 'day', usd: 0.000000001 }] };
    h = await startSidecar(cfg, {}, h.configFile);
    try {
      await h.waitForOutput(
        /budget global:day: its limit \(\$1e-9\) is at or below what its period has spent \(\$[0-9.e-]+\): every request it covers is refused/,
      );
    } finally {
      await h.stop();
    }
  });
});
