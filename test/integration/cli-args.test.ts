/**
 * The command line's own mistakes: an unknown option or a missing value is a one-line message
 * with the command's usage and exit code 2, never a stack trace. check-config names the
 * secrets `serve` would miss.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

import { BIN, ROOT, startSidecar, testConfig } from './harness.js';
import { Redis } from 'ioredis';
import pg from 'pg';
import { dropPrefix, freshDb, PG_ADMIN, SHARED_REDIS, uniq } from './replicas.js';

const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000 });

/** Every key variable the test config names, set (to a dummy). */
const KEYS = { SY_TEST_OPENAI_KEY: 'k', SY_TEST_ANTHROPIC_KEY: 'k', SY_TEST_GEMINI_KEY: 'k', SY_TEST_DEEPSEEK_KEY: 'k' };

/** `serve` on `cfg` (written to DIR/c.yaml) in a fresh directory, expected to stop at start-up. */
function serveStopping(cfg: Record<string, unknown>, dir = mkdtempSync(join(tmpdir(), 'sy-serve-'))) {
  const file = join(dir, 'c.yaml');
  writeFileSync(file, stringify(cfg));
  return spawnSync(process.execPath, [BIN, 'serve', '--config', file, '--port', '0'], {
    cwd: dir,
    env: { ...process.env, ...KEYS },
    encoding: 'utf8',
    timeout: 15_000,
  });
}

describe('switchyard itself', () => {
  it('without a command the usage is a usage mistake: on stderr, exit 2 (stdout stays empty for scripts)', () => {
    const r = run();
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('usage:');
    expect(r.stderr).toContain('switchyard serve');
  });

  it("an unknown command names the one meant: a near miss, another tool's word for it, a serve option given without serve (exit 2, the usage after)", () => {
    for (const [args, meant] of [
      [['serv'], 'switchyard serve'],
      [['check-cofig', 'x.yaml'], 'switchyard check-config'],
      [['validate', 'x.yaml'], 'switchyard check-config'],
      [['start'], 'switchyard serve'],
      [['--config', 'x.yaml'], 'switchyard serve --config FILE'],
    ] as const) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(`unknown command "${args[0]}" (did you mean "${meant}"?)`);
      expect(r.stderr).toContain('usage:');
    }
    expect(run('frobnicate').stderr).toMatch(/^unknown command "frobnicate"\n/);
  });

  it('--version (and -v, version) prints the package version on stdout, exit 0', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v', 'version']) {
      const r = run(flag);
      expect(r.status).toBe(0);
      expect(r.stdout).toBe(`switchyard ${version}\n`);
    }
  });
});

describe('switchyard serve arguments', () => {
  it('an unknown option is a usage error (exit 2), not a crash', () => {
    const r = run('serve', '--bogus');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Unknown option '--bogus'");
    expect(r.stderr).toContain('usage: switchyard serve');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a near miss of an option is told the one meant, as a config key is (it listed the usage only)', () => {
    const r = run('serve', '--prot', '4141');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Unknown option '--prot' (did you mean --port?)");
    expect(run('serve', '--bogus').stderr).not.toContain('did you mean');
  });

  it('an option without its value is a usage error (exit 2)', () => {
    const r = run('serve', '--config');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--config');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--inspect-ws that is not a ws:// or wss:// URL is a usage error (exit 2), as observe.statelyInspectUrl would be refused', () => {
    const r = run('serve', '--port', '0', '--inspect-ws', 'http://127.0.0.1:8080');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--inspect-ws must be a ws:// or wss:// URL, got "http://127.0.0.1:8080"');
    expect(r.stdout).toBe('');
  });

  it('an empty --config, --host or --port (an unset shell variable) is a usage error (exit 2), never the built-in catalogue or a random port', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sy-empty-'));
    for (const [flag, args] of [
      ['--config', ['--config', '']],
      ['--config', ['--config=']],
      ['--host', ['--host', '']],
      ['--port', ['--port', '']],
    ] as const) {
      const r = spawnSync(process.execPath, [BIN, 'serve', ...args], { cwd, encoding: 'utf8', timeout: 10_000 });
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`${flag} is empty`);
    }
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('a --host with a port, a scheme or brackets is a usage error naming the rule server.host has', () => {
    for (const [host, why] of [
      ['127.0.0.1:8080', 'a host without a port'],
      ['http://127.0.0.1', 'not a host name or an IP address'],
      // Brackets are named (it said only "not a host name", though ::1 is taken).
      [
        '[::1]',
        'not a host name or an IP address (letters, digits, dots, dashes, colons; no scheme, port, brackets or spaces): for example 127.0.0.1, 0.0.0.0 or ::1',
      ],
    ] as const) {
      const r = spawnSync(process.execPath, [BIN, 'serve', '--host', host], { encoding: 'utf8', timeout: 10_000 });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toContain(`switchyard serve: --host: ${why}`);
    }
  });

  it('--help prints the usage and exits 0 without starting', () => {
    const r = run('serve', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('usage: switchyard serve');
    expect(r.stdout).toContain('--inspect-ws');
    // The environment serve reads, named where an operator looks first.
    for (const v of ['OPENAI_API_KEY', 'SWITCHYARD_RELAY_URL', 'SWITCHYARD_RELAY_KEY', 'SWITCHYARD_ADMIN_TOKEN', 'SIGHUP']) expect(r.stdout).toContain(v);
  });
});

describe('switchyard check-config', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'sy-check-')), 'switchyard.yaml');
  writeFileSync(
    file,
    stringify({
      providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', apiKeyEnv: 'SY_CHECK_UNSET_KEY' } },
      models: {
        m: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000, endpoints: [{ provider: 'p', upstreamModel: 'm' }] },
      },
    }),
  );

  it("a valid file whose fallbacks maxTotalAttempts 1 leaves untried, or whose budget is below one answer's output, is ok (exit 0) with a note saying so", () => {
    const noted = join(mkdtempSync(join(tmpdir(), 'sy-check-')), 'switchyard.yaml');
    const model = (fallbacks: string[]) => ({
      tier: 'balanced',
      price: { inputPerMTok: 1, outputPerMTok: 10 },
      contextWindow: 100_000,
      maxOutputTokens: 4000,
      fallbacks,
      endpoints: [{ provider: 'p', upstreamModel: 'm' }],
    });
    const cfg = (maxTotalAttempts: number, usd: number) => ({
      providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', apiKeyEnv: 'SY_CHECK_SET_KEY' } },
      models: { a: model(['b']), b: model([]) },
      routing: { routes: { r: ['a', 'b'] } },
      resilience: { retry: { maxTotalAttempts } },
      budget: { limits: [{ scope: 'model', model: 'a', period: 'day', usd }] },
    });
    const check = (c: Record<string, unknown>) => {
      writeFileSync(noted, stringify(c));
      return spawnSync(process.execPath, [BIN, 'check-config', noted], {
        encoding: 'utf8',
        timeout: 20_000,
        env: { ...process.env, SY_CHECK_SET_KEY: 'sk-check-set-0123456789' },
      });
    };
    const r = check(cfg(1, 0.01));
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('models.a.fallbacks (b): never tried, since resilience.retry.maxTotalAttempts is 1');
    expect(r.stderr).toContain('routing.routes.r after a (b): never tried');
    // 4,000 tokens at $10 per million: $0.04 of output, over the $0.01 limit.
    expect(r.stderr).toContain("budget.limits[0] ($0.01) is less than one answer's output at maxOutputTokens on a ($0.04 for 4000 tokens)");
    // A zero limit refuses everything it covers (said, in case "no limit" was meant); a tiny one is printed to the nano-dollar (it said "$0").
    expect(check(cfg(2, 0)).stderr).toContain('budget.limits[0] is $0: every request for a is refused by it (remove the line for no limit)');
    expect(check(cfg(2, 0.0000000015)).stderr).toContain("budget.limits[0] ($0.000000002) is less than one answer's output");
    // An OTLP endpoint without a path: its spans would be POSTed to "/" and refused by a collector.
    expect(check({ ...cfg(2, 0.05), observe: { otlp: { endpoint: 'http://127.0.0.1:4318' } } }).stderr).toContain(
      'note: observe.otlp.endpoint (http://127.0.0.1:4318) has no path: spans are POSTed to it as written, and an OTLP/HTTP collector takes traces at /v1/traces: write http://127.0.0.1:4318/v1/traces',
    );
    expect(check({ ...cfg(2, 0.05), observe: { otlp: { endpoint: 'http://127.0.0.1:4318/v1/traces' } } }).stderr).not.toContain('note:');
    // A memory ledger holds the stored Responses in memory too, 1 GiB of them by default: said, with the fix.
    expect(check({ ...cfg(2, 0.05), storage: { ledger: 'memory' } }).stderr).toContain(
      "note: storage.ledger is memory, so stored Responses are held in this process's memory too, up to storage.responses.maxBytes (1073741824 bytes): set it lower",
    );
    expect(check({ ...cfg(2, 0.05), storage: { ledger: 'memory', responses: { maxBytes: 64 * 1024 ** 2 } } }).stderr).not.toContain('note:');
    // LiteLLM's per-token prices in the per-million fields: every request billed a millionth, no budget ever trips.
    const perToken = cfg(2, 0.05) as { models: Record<string, { price: unknown }> };
    perToken.models.b!.price = { inputPerMTok: 0.000002, outputPerMTok: 0.000008 };
    expect(check(perToken).stderr).toContain(
      "note: models.b.price: inputPerMTok 0.000002, outputPerMTok 0.000008 reads as a price per token (LiteLLM's input_cost_per_token): switchyard's prices are USD per million tokens, so multiply by 1,000,000 (inputPerMTok: 2, outputPerMTok: 8)",
    );
    const fine = check(cfg(2, 0.05));
    expect(fine.status).toBe(0);
    expect(fine.stderr).not.toContain('note:');
    // Times written in seconds, as LiteLLM's are (every request timed out, billed its reservation, nothing said).
    const seconds = check({ ...cfg(2, 0.05), resilience: { requestTimeoutMs: 30, recoveryMs: 60 } });
    expect(seconds.status).toBe(0);
    expect(seconds.stderr).toContain('note: time limits too short to be meant:');
    expect(seconds.stderr).toContain("resilience.requestTimeoutMs is 30 ms: switchyard's times are in milliseconds (30 s would be 30000)");
    expect(seconds.stderr).toContain("resilience.recoveryMs is 60 ms: switchyard's times are in milliseconds (60 s would be 60000)");
    // Long enough not to look like seconds, still under the model's usual latency (500 ms by default).
    const tight = check({ ...cfg(2, 0.05), resilience: { requestTimeoutMs: 800, firstTokenTimeoutMs: 400 } });
    expect(tight.stderr).toContain(
      'models.a: resilience.requestTimeoutMs (800), resilience.firstTokenTimeoutMs (400) leave no room for its usual latency (latencyPriorMs 500): most of its requests would time out',
    );
    expect(tight.stderr).not.toContain('in milliseconds');
  });

  it('a valid file whose secrets are not in the environment is ok (exit 0) with a note naming each variable', () => {
    const r = spawnSync(process.execPath, [BIN, 'check-config', file], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, SY_CHECK_UNSET_KEY: '' } });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(': ok (1 model, 1 provider, 0 routes)');
    expect(r.stderr).toContain('providers.p.apiKeyEnv: SY_CHECK_UNSET_KEY');
    const set = spawnSync(process.execPath, [BIN, 'check-config', file], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, SY_CHECK_UNSET_KEY: 'sk-check-set-0123456789' },
    });
    expect(set.status).toBe(0);
    expect(set.stderr).not.toContain('SY_CHECK_UNSET_KEY');
    // A key too short for the scrubber (an echo of it would show): named, never shown.
    const short = spawnSync(process.execPath, [BIN, 'check-config', file], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, SY_CHECK_UNSET_KEY: 'Lk7Qz9w' },
    });
    expect(short.status).toBe(0);
    expect(short.stderr).toContain(
      'providers.p.apiKeyEnv (SY_CHECK_UNSET_KEY): its value is shorter than 8 characters, too short to be scrubbed from logs and relayed errors',
    );
    expect(short.stderr + short.stdout).not.toContain('Lk7Qz9w');
  });

  it('a file over 256 KiB is refused at once, naming its size (YAML parsing of a 4 MB file of keys never finished)', () => {
    const big = join(mkdtempSync(join(tmpdir(), 'sy-big-')), 'big.yaml');
    writeFileSync(big, `x:\n${Array.from({ length: 20_000 }, (_, i) => `  k${i}: vvvvvvvvvv`).join('\n')}\n`);
    const t0 = Date.now();
    const r = run('check-config', big);
    expect(r.status).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/over the limit of 262144 bytes for a config/);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('a second file argument is a usage error (exit 2), not silently ignored', () => {
    const r = run('check-config', file, file);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: switchyard check-config FILE');
  });

  it.each([
    [['--frob'], 'unknown option --frob'],
    // An option beside the file is named, not counted as a second file ("one file at a time, got 2 arguments").
    [['--json', 'x.yaml'], 'unknown option --json'],
    [['x.yaml', '--strict'], 'unknown option --strict'],
    [['--config', 'x.yaml'], 'the file is given alone, without --config'],
    [[''], 'the file name is empty'],
    [[], 'no config file given'],
  ])('%j: says what was wrong, then the usage (exit 2; an option was read as a file name, or the usage came alone)', (args, why) => {
    const r = run('check-config', ...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`switchyard check-config: ${why}`);
    expect(r.stderr).not.toContain('cannot read');
  });

  it('--help and -h print the usage and exit 0 (not "cannot read the file --help")', () => {
    for (const flag of ['--help', '-h']) {
      const r = run('check-config', flag);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('usage: switchyard check-config FILE');
      expect(r.stderr).not.toContain('cannot read');
    }
  });
});

describe('empty option values in the other commands', () => {
  it('simulate --port "", demo --port "", calibrate --config "" or --strong-share "" are usage errors (exit 2), not a random port or a default', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sy-empty-'));
    for (const [flag, args] of [
      ['--port', ['simulate', '--port', '']],
      ['--profile', ['simulate', '--port', '0', '--profile', '']],
      ['--port', ['demo', '--port', '', '--duration', '1']],
      ['--config', ['calibrate', '--config', '']],
      ['--strong-share', ['calibrate', '--strong-share', '']],
    ] as const) {
      const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 10_000 });
      expect(r.status, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`${flag} is empty`);
    }
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe('switchyard simulate --profile', () => {
  it('a profile that cannot be read is one line naming the file and the reason, exit 1', () => {
    const r = run('simulate', '--port', '0', '--profile', '/nonexistent/profile.yaml');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      "switchyard simulate: /nonexistent/profile.yaml: cannot read the file (ENOENT: there is no such file): check the path (relative paths are the working directory's)",
    );
  });
});

describe('switchyard simulate arguments', () => {
  it('--help and -h print the usage with every option, its default and exit 0', () => {
    for (const flag of ['--help', '-h']) {
      const r = run('simulate', flag);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('usage: switchyard simulate');
      for (const o of ['--port N ', '--profile FILE ', '--host H ', 'default 4180', 'default 127.0.0.1']) expect(r.stdout).toContain(o);
    }
  });

  it('a wrong --port names the command, the option, the range and the value (exit 2)', () => {
    const r = run('simulate', '--port', '70000');
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('switchyard simulate: --port must be a whole number from 0 to 65535, got "70000"');
  });
});

/** An HTTP server on the first free port of those fetch refuses to try (WHATWG "bad ports"), or null. */
async function listenOnBadPort(handler: RequestListener): Promise<Server | null> {
  for (const port of [6000, 6665, 6666, 6667, 6668, 6669, 10080]) {
    const s = createHttpServer(handler);
    const ok = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) return s;
  }
  return null;
}

describe('a sidecar on a port that fetch refuses to try (6000, 6665-6669, 10080: the WHATWG "bad ports")', () => {
  it('switchyard status --url reaches it', async () => {
    const state = { at: 'now', endpoints: [] };
    const srv = await listenOnBadPort((_req, res) => res.end(JSON.stringify(state)));
    expect(srv, 'every fetch-blocked port is taken on this host').not.toBeNull();
    try {
      const { port } = srv!.address() as AddressInfo;
      const child = spawn(process.execPath, [BIN, 'status', '--json', '--url', `http://127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code, out).toBe(0);
      expect(JSON.parse(out)).toEqual(state);
    } finally {
      await new Promise((resolve) => srv!.close(resolve));
    }
  });

  it("switchyard status --url with the banner's inspector URL (…/switchyard/inspect?token=…) sends its token when SWITCHYARD_ADMIN_TOKEN is unset", async () => {
    const state = { at: 'now', endpoints: [] };
    const seen: string[] = [];
    const srv = createHttpServer((req, res) => {
      seen.push(`${req.url} ${req.headers.authorization ?? '-'}`);
      if (req.headers.authorization !== 'Bearer url-admin-token-42' && req.headers.authorization !== 'Bearer url+admin/token+42=') {
        res.statusCode = 401;
        return res.end('{}');
      }
      res.end(JSON.stringify(state));
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = srv.address() as AddressInfo;
      const env = { ...process.env };
      delete env.SWITCHYARD_ADMIN_TOKEN;
      const run = async (url: string): Promise<{ code: number | null; out: string }> => {
        const child = spawn(process.execPath, [BIN, 'status', '--json', '--url', url], { env, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        return { code: await new Promise<number | null>((resolve) => child.on('close', resolve)), out };
      };
      const ok = await run(`http://127.0.0.1:${port}/switchyard/inspect?token=url-admin-token-42`);
      expect(ok.code, ok.out).toBe(0);
      expect(JSON.parse(ok.out)).toEqual(state);
      expect(seen).toEqual(['/switchyard/state Bearer url-admin-token-42']);
      // A base64 token pasted unencoded: its `+` read as a space by the query's decoding was "a character an HTTP header cannot carry".
      const plus = await run(`http://127.0.0.1:${port}/switchyard/inspect?token=url+admin/token+42=`);
      expect(plus.code, plus.out).toBe(0);
      expect(seen.at(-1)).toBe('/switchyard/state Bearer url+admin/token+42=');
      // A wrong one: refused, and the token is not printed.
      const bad = await run(`http://127.0.0.1:${port}/switchyard/inspect?token=wrong-token-99`);
      expect(bad.code).toBe(1);
      expect(bad.out).toContain('is not the sidecar');
      expect(bad.out).not.toContain('wrong-token-99');
    } finally {
      await new Promise((resolve) => srv.close(resolve));
    }
  });

  it('switchyard status against a server that answers JSON that is not a sidecar state: a clear message, exit 1, no stack trace', async () => {
    for (const body of ['{}', '{"endpoints":"x","supervisor":{}}', '{"endpoints":[{"id":1}],"budgets":[],"supervisor":{}}']) {
      const srv = createHttpServer((_req, res) => res.end(body));
      await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = srv.address() as AddressInfo;
        const child = spawn(process.execPath, [BIN, 'status', '--url', `http://127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
        expect([body, code]).toEqual([body, 1]);
        expect(out).toMatch(/answered JSON that is not a switchyard state: is that a switchyard sidecar\?/);
        expect(out).not.toMatch(/TypeError| {4}at /);
      } finally {
        await new Promise((resolve) => srv.close(resolve));
      }
    }
  });

  it('switchyard demo --port sends its traffic there (none of it fails as "network")', async () => {
    const probe = await listenOnBadPort(() => undefined);
    expect(probe, 'every fetch-blocked port is taken on this host').not.toBeNull();
    const { port } = probe!.address() as AddressInfo;
    await new Promise((resolve) => probe!.close(resolve));
    const c = spawn(process.execPath, [BIN, 'demo', '--port', String(port), '--duration', '3'], {
      cwd: mkdtempSync(join(tmpdir(), 'sy-badport-')),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const { code, stderr } = await exitOf(c);
      expect(code, `${out}${stderr}`).toBe(0);
      const done = /done after \d+s: sent (\d+) · ok (\d+) · failed (\d+)(?: \([^)]*\))?(?: · cut at stop (\d+))? · in flight (\d+)/.exec(out);
      expect(done, out).not.toBeNull();
      expect(Number(done![2]), out).toBeGreaterThan(0);
      expect(out).not.toContain('network×');
      // The summary adds up: what the stop cut is counted (it said "failed 0 · in flight 0" with requests missing).
      const n = (i: number): number => Number(done![i] ?? 0);
      expect(n(2) + n(3) + n(4) + n(5), out).toBe(n(1));
    } finally {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  }, 20_000);
});

describe('switchyard demo on a port in use', () => {
  it('exits 1 naming the cause and leaves no folder behind', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const tmp = mkdtempSync(join(tmpdir(), 'sy-demo-tmp-'));
    try {
      const c = spawn(process.execPath, [BIN, 'demo', '--port', String((taken.address() as AddressInfo).port), '--duration', '1'], {
        cwd: tmp,
        env: { ...process.env, TMPDIR: tmp },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const { code, stderr } = await exitOf(c);
      expect(code).toBe(1);
      expect(stderr).toMatch(/switchyard demo: cannot start/);
      expect(readdirSync(tmp).filter((f) => f.startsWith('switchyard-demo-'))).toEqual([]);
    } finally {
      taken.close();
    }
  }, 20_000);
});

describe('switchyard serve --pretty', () => {
  it('writes readable lines without colour codes when stdout is not a terminal (a file, a pipe)', async () => {
    const c = spawn(process.execPath, [BIN, 'serve', '--pretty', '--port', '0'], {
      cwd: mkdtempSync(join(tmpdir(), 'sy-pretty-')),
      env: { ...process.env, OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '', GEMINI_API_KEY: '', DEEPSEEK_API_KEY: '', NO_COLOR: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const listening = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 15_000);
        c.stdout.on('data', () => {
          if (/INFO.*switchyard listening on/.test(out)) {
            clearTimeout(timer);
            resolve(true);
          }
        });
      });
      expect(listening, out).toBe(true);
      expect(out).not.toContain('\x1b[');
      // A model name with a line break in it, quoted by the 400's log line, forges no line of its own.
      const port = /switchyard listening on http:\/\/[^:]+:(\d+)/.exec(out)![1]!;
      const forged = '[07:00:00.000] INFO: request served FORGED';
      const r = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: `gpt-4.1\n${forged}`, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(r.status).toBe(400);
      const t0 = Date.now();
      while (!out.includes('FORGED') && Date.now() - t0 < 5_000) await new Promise((res) => setTimeout(res, 20));
      expect(out).toContain('FORGED');
      expect(out.split('\n').filter((l) => l.startsWith(forged))).toEqual([]);
    } finally {
      c.kill('SIGTERM');
      await exitOf(c);
    }
  }, 25_000);
});

describe('switchyard --help', () => {
  it('says what each command is for, and each command it lists answers its own --help', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    const commands = [...r.stdout.matchAll(/^ {2}switchyard ([a-z-]+) /gm)].map((m) => m[1]!);
    expect(commands).toEqual(['serve', 'simulate', 'demo', 'status', 'check-config', 'calibrate']);
    for (const cmd of commands) {
      // The line after a command's usage describes it.
      expect(r.stdout, cmd).toMatch(new RegExp(`^ {2}switchyard ${cmd} .*\\n {6}\\S`, 'm'));
      const own = run(cmd, '--help');
      expect(own.status, cmd).toBe(0);
      expect(own.stdout, cmd).toContain(`usage: switchyard ${cmd}`);
    }
    expect(r.stdout).toContain('switchyard <command> --help');
  });
});

describe('a wrong option value names the command, the option, what it takes and what was given (exit 2)', () => {
  it.each([
    [['serve', '--port', 'abc'], 'switchyard serve: --port must be a whole number from 0 to 65535, got "abc"'],
    // Number() would read these as 16, 1000 and 80: a port nobody typed.
    [['serve', '--port', '0x10'], 'switchyard serve: --port must be a whole number from 0 to 65535, got "0x10"'],
    [['simulate', '--port', '1e3'], 'switchyard simulate: --port must be a whole number from 0 to 65535, got "1e3"'],
    [['demo', '--port', ' 80'], 'switchyard demo: --port must be a whole number from 0 to 65535, got " 80"'],
    [['serve', '--inspect-ws', 'http://x'], 'switchyard serve: --inspect-ws must be a ws:// or wss:// URL, got "http://x"'],
    [['serve', '--config', ''], 'switchyard serve: --config is empty (an unset variable?): give it a value, or leave --config out'],
    [['calibrate', '--strong-share', '2'], 'switchyard calibrate: --strong-share must be a number from 0 to 1, got "2"'],
    [['calibrate', '--limit', '0'], 'switchyard calibrate: --limit must be a positive whole number, got "0"'],
    // A negative value was node's "argument is ambiguous … use '--port=-XYZ'".
    [['simulate', '--port', '-3'], 'switchyard simulate: --port must be a whole number from 0 to 65535, got "-3"'],
    // Past a timer's range the demo ran 0 s (a TimeoutOverflowWarning) and exited 0.
    [
      ['demo', '--duration', '3000000'],
      'switchyard demo: --duration must be a positive number of seconds, at most 604800 (a week; leave it out to run until Ctrl-C), got "3000000"',
    ],
    [
      ['demo', '--duration', '1e400'],
      'switchyard demo: --duration must be a positive number of seconds, at most 604800 (a week; leave it out to run until Ctrl-C), got "1e400"',
    ],
    [['calibrate', '--limit', '-1'], 'switchyard calibrate: --limit must be a positive whole number, got "-1"'],
  ])('%j', (args, line) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(line);
  });
});

describe('switchyard calibrate arguments', () => {
  it('--help and -h print the usage with every option and exit 0', () => {
    for (const flag of ['--help', '-h']) {
      const r = run('calibrate', flag);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('usage: switchyard calibrate');
      for (const o of ['--config', '--strong-share', '--limit']) expect(r.stdout).toContain(o);
    }
  });

  it('without a ledger it says where it looked and creates none (exit 1)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-cal-'));
    const r = spawnSync(process.execPath, [BIN, 'calibrate'], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no ledger at ./switchyard.db');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('an unknown option is a usage error (exit 2) that shows the usage', () => {
    const r = run('calibrate', '--bogus');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Unknown option '--bogus'");
    expect(r.stderr).toContain('usage: switchyard calibrate');
  });
});

/** The exit code of a child (null when it had to be killed after 15 s) and what it wrote on stderr. */
function exitOf(c: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  c.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      c.kill('SIGKILL');
      resolve({ code: null, stderr });
    }, 15_000);
    c.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('switchyard serve on a port in use', () => {
  it('says so and exits 1 instead of hanging', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as AddressInfo).port;
    const cwd = mkdtempSync(join(tmpdir(), 'sy-busy-'));
    let child: ChildProcess | null = null;
    try {
      const c = spawn(process.execPath, [BIN, 'serve', '--port', String(port)], {
        cwd,
        env: { ...process.env, OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '', GEMINI_API_KEY: '', DEEPSEEK_API_KEY: '', SWITCHYARD_RELAY_URL: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      const { code, stderr } = await exitOf(c);
      expect(stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(code).toBe(1);
    } finally {
      // A test that fails (or times out) must not leave a hanging switchyard behind.
      if (child !== null && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      busy.close();
    }
  }, 20_000);

  it('a second sidecar in the same directory (same port, same ledger file) is told the port is taken, not made to wait for the ledger lock', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sy-twice-'));
    const env = { ...process.env, OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '', GEMINI_API_KEY: '', DEEPSEEK_API_KEY: '', SWITCHYARD_RELAY_URL: '' };
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const first = spawn(process.execPath, [BIN, 'serve', '--port', String(port)], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let second: ChildProcess | null = null;
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        first.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('listening on')) resolve();
        });
        first.once('exit', () => reject(new Error(`the first sidecar exited: ${out}`)));
      });
      const c = spawn(process.execPath, [BIN, 'serve', '--port', String(port)], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      second = c;
      let out = '';
      c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      const { code, stderr } = await exitOf(c);
      expect(stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(out + stderr).not.toContain('waiting up to');
      expect(code).toBe(1);
    } finally {
      if (second !== null && second.exitCode === null && second.signalCode === null) second.kill('SIGKILL');
      first.kill('SIGKILL');
    }
  }, 30_000);
});

describe('a ./switchyard.yaml that is a link to nothing', () => {
  it('stops the start saying where the link points (it started on the built-in catalogue, without the file)', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sy-dangling-'));
    symlinkSync(join(cwd, 'mounted', 'missing.yaml'), join(cwd, 'switchyard.yaml'));
    const r = spawnSync(process.execPath, [BIN, 'serve', '--port', '0'], {
      cwd,
      env: { ...process.env, OPENAI_API_KEY: 'sk-test', ANTHROPIC_API_KEY: '', GEMINI_API_KEY: '', DEEPSEEK_API_KEY: '', SWITCHYARD_RELAY_URL: '' },
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`./switchyard.yaml: a symbolic link to ${join(cwd, 'mounted', 'missing.yaml')}, which does not exist`);
  });
});

describe('a ./switchyard.yaml that serve finds by itself (no --config)', () => {
  const start = (cwd: string) =>
    spawnSync(process.execPath, [BIN, 'serve', '--port', '0'], {
      cwd,
      env: {
        ...process.env,
        OPENAI_API_KEY: '',
        ANTHROPIC_API_KEY: '',
        GEMINI_API_KEY: '',
        DEEPSEEK_API_KEY: '',
        SWITCHYARD_RELAY_URL: '',
        SY_IMPLICIT_UNSET_KEY: '',
      },
      encoding: 'utf8',
      timeout: 15_000,
    });
  const implicit = './switchyard.yaml (found in the working directory and read as no --config was given; without it switchyard runs on the built-in catalogue';

  it('a start it stops for missing secrets names the file and that it was found, not given (npm start said only "missing secrets", where the README promises the simulator)', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sy-implicit-'));
    writeFileSync(
      join(cwd, 'switchyard.yaml'),
      stringify({
        providers: { p: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', apiKeyEnv: 'SY_IMPLICIT_UNSET_KEY' } },
        models: {
          m: { tier: 'balanced', price: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000, endpoints: [{ provider: 'p', upstreamModel: 'm' }] },
        },
      }),
    );
    const r = start(cwd);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`missing secrets of config ${implicit}`);
    expect(r.stderr).toContain('providers.p.apiKeyEnv: environment variable SY_IMPLICIT_UNSET_KEY is set but empty');
  });

  it('an invalid one says so too; a file given with --config is named as given', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sy-implicit-'));
    writeFileSync(join(cwd, 'switchyard.yaml'), 'models: {}\n');
    const r = start(cwd);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`invalid config ${implicit}`);
    const given = spawnSync(process.execPath, [BIN, 'serve', '--port', '0', '--config', 'switchyard.yaml'], { cwd, encoding: 'utf8', timeout: 15_000 });
    expect(given.status).toBe(1);
    expect(given.stderr).toContain('invalid config switchyard.yaml:');
  });
});

describe('switchyard serve with a relay (SWITCHYARD_RELAY_URL)', () => {
  const NO_KEYS = { OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '', GEMINI_API_KEY: '', DEEPSEEK_API_KEY: '' };
  const serveWith = (env: Record<string, string>) =>
    spawnSync(process.execPath, [BIN, 'serve', '--port', '0'], {
      cwd: mkdtempSync(join(tmpdir(), 'sy-relay-')),
      env: { ...process.env, ...NO_KEYS, ...env },
      encoding: 'utf8',
      timeout: 15_000,
    });

  it.each(['notaurl', 'ftp://relay.example/v1'])('a relay URL that is not http(s) (%s) is a start-up error naming the variable, not a stack trace', (url) => {
    const r = serveWith({ SWITCHYARD_RELAY_URL: url, SWITCHYARD_RELAY_KEY: 'rk' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('SWITCHYARD_RELAY_URL');
    expect(r.stderr).toContain('http:// or https://');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a SWITCHYARD_REPLICA_ID that is not a replica id is a start-up error naming it and the rule, not silently replaced by a generated id', () => {
    const r = serveWith({ SWITCHYARD_REPLICA_ID: 'web/0' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('SWITCHYARD_REPLICA_ID "web/0" is not a replica id');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it.each([
    ['http://user:relSECRETpw@127.0.0.1:9/v1', 'takes no user name or password'],
    ['http://127.0.0.1:9/v1?key=relSECRETq', 'takes no query string or fragment'],
  ])('a relay URL with a credential or a query (%s) is refused as a baseUrl is, and never printed (it was logged whole)', (url, why) => {
    const r = serveWith({ SWITCHYARD_RELAY_URL: url, SWITCHYARD_RELAY_KEY: 'rk' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`SWITCHYARD_RELAY_URL ${why}`);
    expect(`${r.stdout}${r.stderr}`).not.toContain('relSECRET');
  });

  it('SWITCHYARD_RELAY_KEY without the URL: the banner says there is no relay (it was passed over in silence)', async () => {
    const c = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
      cwd: mkdtempSync(join(tmpdir(), 'sy-relay-')),
      env: { ...process.env, ...NO_KEYS, SWITCHYARD_RELAY_URL: '', SWITCHYARD_RELAY_KEY: 'rk' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      const t0 = Date.now();
      while (!(out.includes('listening on') && err.includes('SIMULATED')) && Date.now() - t0 < 15_000) await new Promise((r) => setTimeout(r, 20));
      expect(out).toContain('SWITCHYARD_RELAY_KEY is set without SWITCHYARD_RELAY_URL: no relay');
      // The human banner says it too (it said only "no provider key found").
      expect(err).toContain('SWITCHYARD_RELAY_KEY is set without SWITCHYARD_RELAY_URL: no relay (set both).');
    } finally {
      c.kill('SIGTERM');
      await exitOf(c);
    }
  }, 25_000);

  it('a relay URL without SWITCHYARD_RELAY_KEY is a start-up error naming the key variable', () => {
    const r = serveWith({ SWITCHYARD_RELAY_URL: 'http://127.0.0.1:9/v1', SWITCHYARD_RELAY_KEY: '' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('SWITCHYARD_RELAY_KEY');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('switchyard serve on a SQLite ledger whose pages are damaged', () => {
  it('is a start-up error saying so and what to do, not an uncaught SqliteError (the file opens; its first read fails)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-damaged-'));
    const file = join(dir, 'l.db');
    const { SqliteLedger } = await import('../../src/accounting/sqlite-ledger.js');
    const made = SqliteLedger.open(file);
    await made.close();
    // Every table's and index's root page written over with garbage (the header page stays whole).
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(file);
    db.pragma('journal_mode = DELETE');
    const size = Number(db.pragma('page_size', { simple: true }));
    const roots = (db.prepare('SELECT rootpage FROM sqlite_master WHERE rootpage > 1').all() as Array<{ rootpage: number }>).map((r) => r.rootpage);
    db.close();
    const bytes = readFileSync(file);
    for (const page of roots) bytes.fill(0x5a, (page - 1) * size, page * size);
    writeFileSync(file, bytes);
    const r = serveStopping(
      testConfig('http://127.0.0.1:9', { storage: { ledger: 'sqlite:./l.db' }, budget: { limits: [{ scope: 'global', period: 'day', usd: 5 }] } }),
      dir,
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /cannot start: the ledger sqlite:\.\/l\.db is damaged \(SQLITE_(CORRUPT|NOTADB)[A-Z_]*: [^)]*\): restore it from a backup, or move it and its -wal and -shm files aside/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('switchyard serve on PostgreSQL with an in-flight journal it cannot open', () => {
  it('is a start-up error that names the journal and both ways out, not a stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-journal-'));
    const notADir = join(dir, 'a-file');
    writeFileSync(notADir, 'x');
    const cfg = testConfig('http://127.0.0.1:9', { storage: { ledger: 'postgres://postgres@127.0.0.1:5432/test', journal: join(notADir, 'inflight') } });
    const r = serveStopping(cfg, dir);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`cannot open the in-flight journal ${join(notADir, 'inflight')}-0 / -1`);
    expect(r.stderr).toContain('set storage.journal to a writable path prefix, or to off');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('switchyard serve on a PostgreSQL ledger it cannot open', () => {
  const PW = 'hunter2-in-the-url';
  const serveOn = (ledger: string) => serveStopping(testConfig('http://127.0.0.1:9', { storage: { ledger } }));

  it('nothing listening, no such database, no such role: exit 1, a hint for each, never the password', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    const cases: Array<[string, string]> = [
      [`postgres://postgres:${PW}@127.0.0.1:${closed}/x`, `is PostgreSQL running and reachable at 127.0.0.1:${closed}?`],
      [`postgres://postgres:${PW}@127.0.0.1:5432/sy_no_such_db_here`, "psql -c 'CREATE DATABASE sy_no_such_db_here'"],
      [`postgres://sy_no_such_role:${PW}@127.0.0.1:5432/postgres`, 'check the user and password in storage.ledger'],
    ];
    for (const [ledger, hint] of cases) {
      const r = serveOn(ledger);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`cannot open the ledger ${ledger.replace(PW, '***')}: `);
      expect(r.stderr).toContain(hint);
      expect(r.stdout + r.stderr).not.toContain(PW);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('a user who may not create the tables: exit 1 saying to connect as the owner or grant CREATE (it said only "permission denied for schema public")', async () => {
    const db = await freshDb();
    const role = uniq('sy_noperm').replace(/[^a-z0-9_]/g, '_');
    try {
      await db.query(`CREATE ROLE ${role} LOGIN`);
      const name = new URL(db.url).pathname.slice(1);
      const r = serveOn(`postgres://${role}@127.0.0.1:5432/${name}`);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('permission denied');
      expect(r.stderr).toContain(`GRANT CREATE, USAGE ON SCHEMA public TO ${role}`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await db.drop();
      const admin = new pg.Client({ connectionString: PG_ADMIN });
      await admin.connect();
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });

  it('a password in storage.ledger is not in the start-up log line either', async () => {
    const db = await freshDb();
    try {
      const s = await startSidecar(testConfig('http://127.0.0.1:9', { storage: { ledger: db.url.replace('postgres@', `postgres:${PW}@`) } }));
      await s.stop();
      expect(s.stdout()).toContain('postgres://postgres:***@127.0.0.1:5432/');
      expect(s.stdout() + s.stderr()).not.toContain(PW);
    } finally {
      await db.drop();
    }
  });
});

describe('switchyard serve on a Redis database the server does not have', () => {
  it('is a start-up error naming it (not a sidecar that says "up" while it writes into database 0)', async () => {
    const db = await freshDb();
    const prefix = uniq('sy-no-db');
    try {
      // The machine's Redis has 16 databases (its default): 99 is refused by SELECT.
      const r = serveStopping(testConfig('http://127.0.0.1:9', { storage: { ledger: db.url, shared: 'redis://127.0.0.1:6379/99', keyPrefix: prefix } }));
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('storage.shared redis://127.0.0.1:6379/99 names a database that this Redis does not have (ERR DB index is out of range)');
      const left = new Redis(SHARED_REDIS);
      try {
        expect(await left.keys(`{${prefix}}:*`)).toEqual([]);
      } finally {
        left.disconnect();
      }
    } finally {
      await dropPrefix(SHARED_REDIS, prefix);
      await db.drop();
    }
  });
});

describe('two sidecars on one SQLite ledger', () => {
  it('a start waits for a predecessor that is stopping, is refused (naming the lock and the way out) while one keeps running, and is never blocked by a killed one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-twice-'));
    // No grace: a start waits 2 s (the margin) for another sidecar's lock before it gives up.
    const file = join(dir, 'c.yaml');
    writeFileSync(file, stringify(testConfig('http://127.0.0.1:9', { server: { shutdownGraceMs: 0 }, storage: { ledger: 'sqlite:./l.db' } })));
    const running: ChildProcess[] = [];
    const serve = (): ChildProcess => {
      const c = spawn(process.execPath, [BIN, 'serve', '--config', file, '--port', '0'], {
        cwd: dir,
        env: { ...process.env, ...KEYS },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      running.push(c);
      return c;
    };
    /** Resolves once the sidecar's log has a line containing `text`. */
    const logged = (c: ChildProcess, text: string): Promise<void> =>
      new Promise((resolve, reject) => {
        let out = '';
        c.stdout!.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes(text)) resolve();
        });
        c.once('exit', () => reject(new Error(`the sidecar ended before it logged "${text}": ${out}`)));
      });
    try {
      const first = serve();
      await logged(first, 'switchyard listening on');
      // A restart in place: the successor starts while the first is stopping, and waits for it.
      const second = serve();
      await logged(second, 'another switchyard process holds ./l.db-inflight.lock: waiting up to 2 s for it to stop');
      const secondUp = logged(second, 'switchyard listening on');
      first.kill('SIGTERM');
      expect((await exitOf(first)).code).toBe(0);
      await secondUp;
      // One that keeps running: the third gives up after the wait.
      const { code, stderr } = await exitOf(serve());
      expect(code).toBe(1);
      expect(stderr).toContain('cannot open the ledger sqlite:./l.db: another switchyard process holds ./l.db-inflight.lock');
      expect(stderr).toContain('one sidecar per ledger file: stop the other one, or give this one its own storage.ledger');
      expect(stderr).not.toMatch(/\n\s+at /);
      // A killed one holds nothing: the next start does not wait.
      second.kill('SIGKILL');
      await exitOf(second);
      const fourth = serve();
      const lines: string[] = [];
      fourth.stdout!.on('data', (d: Buffer) => lines.push(d.toString()));
      await logged(fourth, 'switchyard listening on');
      expect(lines.join('')).not.toContain('waiting up to');
      // SIGTERM on its listening line is a shutdown (the handlers are in place before that line).
      fourth.kill('SIGTERM');
      expect((await exitOf(fourth)).code).toBe(0);
    } finally {
      for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  }, 30_000);
});

describe('SIGHUP while serve starts', () => {
  it("is held, not fatal: the sidecar starts and then reloads the file, which may have changed meanwhile (node's default for SIGHUP ended the process)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-hup-'));
    const file = join(dir, 'c.yaml');
    // A start waits up to shutdownGraceMs + 2 s for another sidecar's ledger lock.
    const cfg = testConfig('http://127.0.0.1:9', { server: { shutdownGraceMs: 8000 }, storage: { ledger: 'sqlite:./l.db' } });
    writeFileSync(file, stringify(cfg));
    const running: ChildProcess[] = [];
    /** A sidecar, and a promise for the moment its log has a line containing a text (its log so far included). */
    const serve = (): { child: ChildProcess; logged: (text: string) => Promise<string> } => {
      const child = spawn(process.execPath, [BIN, 'serve', '--config', file, '--port', '0'], {
        cwd: dir,
        env: { ...process.env, ...KEYS },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      running.push(child);
      let out = '';
      const waiting: Array<() => void> = [];
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        for (const w of [...waiting]) w();
      });
      const logged = (text: string): Promise<string> =>
        new Promise((resolve, reject) => {
          const check = () => out.includes(text) && resolve(out);
          const ended = () => reject(new Error(`the sidecar ended (${child.exitCode ?? child.signalCode}) before it logged "${text}": ${out}`));
          waiting.push(check);
          check();
          if (child.exitCode !== null || child.signalCode !== null) ended();
          else child.once('exit', ended);
        });
      return { child, logged };
    };
    try {
      // A start that takes a while, deterministically: it waits for another sidecar's ledger lock.
      const first = serve();
      await first.logged('switchyard listening on');
      const second = serve();
      await second.logged('waiting up to 10 s for it to stop');
      // A reload sent while it starts, for a file changed meanwhile (a route added).
      writeFileSync(file, stringify({ ...cfg, routing: { routes: { added: ['gpt-4.1'] } } }));
      second.child.kill('SIGHUP');
      first.child.kill('SIGTERM');
      expect((await exitOf(first.child)).code).toBe(0);
      const out = await second.logged('"msg":"SIGHUP reload"');
      expect(out).toContain('SIGHUP came while starting: reloading the config file now');
      const url = /switchyard listening on (http:\/\/\S+) /.exec(out)![1]!;
      const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ id: string }> };
      expect(models.data.map((m) => m.id)).toContain('route/added');
      second.child.kill('SIGTERM');
      expect((await exitOf(second.child)).code).toBe(0);
    } finally {
      for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
  }, 30_000);
});

describe('switchyard simulate on a port in use', () => {
  it('says the port is taken and how to choose another, exit 1', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as AddressInfo).port;
    try {
      const r = spawnSync(process.execPath, [BIN, 'simulate', '--port', String(port)], { encoding: 'utf8', timeout: 15_000 });
      expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is already in use: stop the other process or pass --port N`);
      expect(r.status).toBe(1);
    } finally {
      busy.close();
    }
  });
});

describe('switchyard demo on a port in use', () => {
  it('says so and exits 1 instead of hanging', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as AddressInfo).port;
    let child: ChildProcess | null = null;
    try {
      const c = spawn(process.execPath, [BIN, 'demo', '--port', String(port), '--duration', '2'], {
        cwd: mkdtempSync(join(tmpdir(), 'sy-busy-')),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      const { code, stderr } = await exitOf(c);
      expect(stderr).toContain('already in use');
      expect(code).toBe(1);
    } finally {
      // A test that fails (or times out) must not leave a hanging switchyard behind.
      if (child !== null && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      busy.close();
    }
  }, 20_000);
});

describe('a sidecar without Redis on the ledger of replicas on Redis', () => {
  it('is refused at start-up while they mark it (its budgets would be its own beside theirs); after an old mark it starts with a warning', async () => {
    const db = await freshDb();
    const prefix = uniq('sy-lone-beside');
    const dir = mkdtempSync(join(tmpdir(), 'sy-lone-'));
    try {
      const replica = await startSidecar(testConfig('http://127.0.0.1:9', { storage: { ledger: db.url, shared: SHARED_REDIS, keyPrefix: prefix } }), {
        SWITCHYARD_REPLICA_ID: 'marked',
      });
      try {
        const lone = testConfig('http://127.0.0.1:9', { storage: { ledger: db.url, journal: join(dir, 'journal') } });
        // The mark is written just after start-up, without holding it up.
        const marked = async (): Promise<boolean> => (await db.query('SELECT 1 FROM switchyard_ledger_replicas')).length > 0;
        for (let i = 0; i < 100 && !(await marked()); i++) await new Promise((res) => setTimeout(res, 50));
        const r = serveStopping(lone, dir);
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(
          new RegExp(
            `storage.ledger postgres://postgres@127.0.0.1:5432/\\w+ is written by replicas that share their budgets through Redis \\(keyPrefix ${prefix}, last seen \\d+ s ago\\), and this sidecar has no storage.shared: it would keep budgets of its own beside theirs`,
          ),
        );
      } finally {
        // Killed: a replica stopped cleanly, the last of its key prefix, takes the mark off the ledger.
        await replica.stop('SIGKILL');
      }
      // The replicas were killed an hour ago: the lone sidecar starts, and says what it found.
      await db.query('UPDATE switchyard_ledger_replicas SET seen_at = $1', [Date.now() - 3_600_000]);
      const later = await startSidecar(testConfig('http://127.0.0.1:9', { storage: { ledger: db.url, journal: join(dir, 'journal') } }));
      try {
        await later.waitForOutput(/this sidecar has no storage.shared, so it keeps budgets of its own/);
      } finally {
        await later.stop();
      }
    } finally {
      await dropPrefix(SHARED_REDIS, prefix);
      await db.drop();
    }
  });
});
