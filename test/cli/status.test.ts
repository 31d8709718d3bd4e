/**
 * `switchyard status` in-process: the report's layout and colours, and the command against a
 * canned sidecar on port 0 (admin token, --json, refusals, bad usage).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { StateView } from '../../src/runtime/state-view.js';
import { formatDuration, formatStatus, formatUsd, statusCommand, until, type SpendView } from '../../src/cli/status.js';

const AT = '2026-03-01T12:00:00.000Z';
const endpoint = (id: string, state: string, over: Partial<StateView['endpoints'][number]> = {}): StateView['endpoints'][number] => ({
  id,
  model: id.split('@')[0]!,
  provider: id.split('@')[1]!,
  state,
  rpm: { used: 3, limit: 60 },
  tpm: { used: 12_500, limit: null },
  inFlight: 1,
  maxConcurrent: 10,
  latency: { p50: 120, ewma: 130.4, peakEwma: 150, ttftEwma: null, prior: 500 },
  consecutiveFailures: 0,
  retryAt: null,
  reason: null,
  requests: 9,
  successes: 9,
  errors: 0,
  rateLimited: 0,
  ...over,
});
const STATE: StateView = {
  at: AT,
  uptimeMs: 125_000,
  endpoints: [
    endpoint('gpt-4.1@openai', 'healthy'),
    endpoint('claude-sonnet-4.5@anthropic', 'circuit-open', { consecutiveFailures: 2, retryAt: '2026-03-01T12:00:12.000Z', reason: 'server_error' }),
    endpoint('deepseek-v3.2@deepseek', 'throttled', { retryAt: '2026-03-01T12:01:30.000Z', reason: 'rpm window full' }),
  ],
  budgets: [
    {
      id: 'global:day',
      scope: 'global',
      key: null,
      model: null,
      period: 'day',
      limitUsd: 5,
      spentUsd: 4.5,
      reservedUsd: 0.1,
      remainingUsd: 0.4,
      periodStart: '2026-03-01T00:00:00.000Z',
      resetsAt: '2026-03-02T00:00:00.000Z',
    },
  ],
  supervisor: { state: 'serving', queueDepth: 0, requestsRouted: 27, requestsQueued: 0, inFlight: 1 },
};
const SPEND: SpendView = {
  total: { requests: 12, usd: 0.0123 },
  groups: [{ model: 'gpt-4.1', requests: 12, promptTokens: 300, completionTokens: 900, usd: 0.0123 }],
};

describe('formatStatus', () => {
  it('beyond 40 endpoints, counts them by state and lists only those worth a look (busy, not healthy, failing); --all lists every one (499 rows were 578 lines)', () => {
    const idle = Array.from({ length: 60 }, (_, i) => endpoint(`m${i}@p`, 'healthy', { inFlight: 0 }));
    const endpoints = [
      ...idle,
      endpoint('busy@p', 'healthy'),
      endpoint('down@p', 'circuit-open', { inFlight: 0 }),
      endpoint('flaky@p', 'healthy', { inFlight: 0, consecutiveFailures: 2 }),
    ];
    const out = formatStatus('u', { ...STATE, endpoints }, null, false);
    expect(out).toContain('endpoints: 63 (62 healthy, 1 circuit-open); 60 healthy, idle and never failed are not listed (--all lists them)');
    const rows = out.split('\n').filter((l) => /^\S+@p\s/.test(l));
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual(['busy@p', 'down@p', 'flaky@p']);
    const all = formatStatus('u', { ...STATE, endpoints }, null, false, undefined, true);
    expect(all.split('\n').filter((l) => /^\S+@p\s/.test(l))).toHaveLength(63);
    expect(all).toContain('endpoints: 63 (62 healthy, 1 circuit-open)\n');
    // Up to 40, all are listed and nothing is counted.
    expect(formatStatus('u', { ...STATE, endpoints: idle.slice(0, 40) }, null, false)).not.toContain('endpoints:');
  });

  it('lays out endpoints, budgets and spend as aligned plain text', () => {
    const out = formatStatus('http://127.0.0.1:4141', STATE, SPEND, false);
    expect(out).not.toContain('\x1b[');
    expect(out).toContain('switchyard http://127.0.0.1:4141 — up 2m 5s, 27 routed, 1 in progress (0 of them queued for an endpoint)');
    const lines = out.split('\n');
    const head = lines.find((l) => l.startsWith('ENDPOINT'))!;
    const open = lines.find((l) => l.startsWith('claude-sonnet-4.5@anthropic'))!;
    expect(open).toMatch(/circuit-open\s+3\/60\s+12\.5k\/∞\s+1\/10\s+120ms\s+130ms\s+2\s+in 12s\s+server_error$/);
    expect(open.indexOf('in 12s')).toBe(head.indexOf('RETRY'));
    expect(lines.find((l) => l.startsWith('deepseek'))).toContain('in 1m 30s');
    expect(lines.find((l) => l.startsWith('gpt-4.1@openai'))).toMatch(/healthy .* -$/);
    expect(formatStatus('u', { ...STATE, endpoints: [endpoint('x@y', 'healthy', { tpm: { used: 0, limit: 2_000_000 } })] }, null, false)).toMatch(
      /^x@y\s+healthy\s+3\/60\s+0\/2M\s/m,
    );
    expect(out).toMatch(/^global:day\s+\$4\.50 \/ \$5\.00\s+92\.0%\s+\$0\.100\s+day\s+in 12h 0m$/m);
    expect(out).toMatch(/^gpt-4\.1\s+12\s+300\s+900\s+\$0\.0123$/m);
    expect(out).toMatch(/^total\s+12\s+\$0\.0123$/m);
  });

  it('with a display currency (budget.currency), the spend and budget tables have its column beside USD, as /switchyard/spend converts it (they showed USD only)', () => {
    const spend: SpendView = {
      currency: { code: 'CNY', perUsd: 7.1 },
      total: { requests: 12, usd: 0.0123, cny: 0.08733 },
      groups: [{ model: 'gpt-4.1', requests: 12, promptTokens: 300, completionTokens: 900, usd: 0.0123, cny: 0.08733 }],
    };
    const out = formatStatus('u', STATE, spend, false);
    expect(out).toMatch(/^MODEL\s+REQUESTS\s+PROMPT\s+COMPLETION\s+SPEND\s+CNY$/m);
    expect(out).toMatch(/^gpt-4\.1\s+12\s+300\s+900\s+\$0\.0123\s+0\.0873 CNY$/m);
    expect(out).toMatch(/^total\s+12\s+\$0\.0123\s+0\.0873 CNY$/m);
    // The budget table too: spent and limit (limits are USD) converted as the spend route converts them.
    expect(out).toMatch(/^BUDGET\s+SPENT \/ LIMIT\s+USED\s+RESERVED\s+PERIOD\s+RESETS\s+CNY$/m);
    expect(out).toMatch(/^global:day\s+\$4\.50 \/ \$5\.00\s+92\.0%\s+\$0\.100\s+day\s+in 12h 0m\s+31\.95 \/ 35\.50 CNY$/m);
    // USD as the display currency adds nothing (its figure is `usd`).
    const usd = formatStatus('u', STATE, { ...SPEND, currency: { code: 'USD', perUsd: 1 } }, false);
    expect(usd).toMatch(/^MODEL\s+REQUESTS\s+PROMPT\s+COMPLETION\s+SPEND$/m);
    expect(usd).toMatch(/^BUDGET\s+SPENT \/ LIMIT\s+USED\s+RESERVED\s+PERIOD\s+RESETS$/m);
  });

  it('colours states and budget levels with ANSI when asked', () => {
    const out = formatStatus('u', STATE, null, true);
    expect(out).toContain('\x1b[31mcircuit-open');
    expect(out).toContain('\x1b[33mthrottled');
    expect(out).toContain('\x1b[32mhealthy');
    expect(out).toContain('\x1b[33m$4.50 / $5.00'); // 92 %: amber
    expect(out).toContain('spend: unavailable');
  });

  it('formats durations, countdowns and money', () => {
    expect([formatDuration(0), formatDuration(59_400), formatDuration(61_000), formatDuration(3_600_000 * 50)]).toEqual(['0s', '59s', '1m 1s', '2d 2h']);
    expect([until(null, 0), until('1970-01-01T00:00:05Z', 10_000), until('1970-01-01T00:00:12Z', 0)]).toEqual(['-', 'now', 'in 12s']);
    expect([formatUsd(0), formatUsd(0.000084), formatUsd(2.5), formatUsd(1234.4)]).toEqual(['$0', '$0.0000840', '$2.50', '$1234']);
    // Under a micro-dollar (one small embedding request: 3 tokens at $0.02/MTok) it said "$6.00e-8".
    expect([formatUsd(6e-8), formatUsd(1e-9), formatUsd(1.234e-7), formatUsd(9.99e-7)]).toEqual([
      '$0.00000006',
      '$0.000000001',
      '$0.000000123',
      '$0.000000999',
    ]);
  });
});

describe('statusCommand', () => {
  let server: Server;
  let url = '';
  const seen: IncomingHttpHeaders[] = [];
  let out = '';
  let err = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers);
      if (req.url?.startsWith('/stall')) {
        // Headers, a byte, then nothing (another server on that port, a proxy).
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{');
        return;
      }
      if (req.url?.startsWith('/plain')) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('denied \x1b]0;pwned\x07\x1b[2J');
        return;
      }
      if (req.url?.startsWith('/escapes')) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'evil \x1b[2J\x1b[31mcleared\nfake line' } }));
        return;
      }
      if (req.url?.startsWith('/endless')) {
        // A body without end, fast (another server on that port): status must not read it whole.
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(1024 * 1024, 32);
        const more = (): void => {
          while (res.write(chunk));
          res.once('drain', more);
        };
        more();
        req.socket.once('close', () => res.destroy());
        return;
      }
      if (req.url?.startsWith('/pgdown/switchyard/spend')) {
        res
          .writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' })
          .end(
            '{"error":{"message":"the PostgreSQL database (storage.ledger) cannot be reached (ECONNREFUSED): try again shortly","type":"service_unavailable","param":null,"code":"storage_unavailable"}}',
          );
        return;
      }
      if (req.url?.startsWith('/echo')) {
        // A proxy in front that quotes the Authorization header it got.
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `bad auth: ${req.headers.authorization}` } }));
        return;
      }
      if (req.url?.startsWith('/untokened')) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end('{"error":{"message":"this sidecar has no SWITCHYARD_ADMIN_TOKEN: restart it with one"}}');
        return;
      }
      if (req.headers.authorization !== 'Bearer tok') {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{}}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(req.url?.includes('/switchyard/state') ? STATE : SPEND));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server.close());
  afterEach(() => {
    vi.restoreAllMocks();
    out = '';
    err = '';
  });
  const capture = () => {
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  };

  it('never prints the admin token back, from the environment or from --url, when an answer echoes it (it printed "bad auth: Bearer adm-…")', async () => {
    capture();
    expect(await statusCommand(['--url', `${url}/echo`], { SWITCHYARD_ADMIN_TOKEN: 'adm-LEAKCANARY-token-333' })).toBe(1);
    expect(await statusCommand(['--url', `${url}/echo/switchyard/inspect?token=adm-LEAKCANARY-token-444`], {})).toBe(1);
    expect(err).toContain('answered 500: bad auth: Bearer [redacted]');
    expect(err + out).not.toContain('LEAKCANARY');
  });

  it('sends SWITCHYARD_ADMIN_TOKEN as a Bearer token and prints the table', async () => {
    capture();
    expect(await statusCommand(['--url', `${url}/`], { SWITCHYARD_ADMIN_TOKEN: 'tok' })).toBe(0);
    expect(seen.at(-1)!.authorization).toBe('Bearer tok');
    expect(out).toMatch(/^ENDPOINT/m);
    expect(out).toContain('gpt-4.1@openai');
  });

  it('a ledger that cannot be read (PostgreSQL unreachable): the table is printed, and its spend line says why', async () => {
    capture();
    expect(await statusCommand(['--url', `${url}/pgdown`], { SWITCHYARD_ADMIN_TOKEN: 'tok' })).toBe(0);
    expect(out).toMatch(/^global:day/m);
    // It said "spend: unavailable" and nothing else.
    expect(out).toContain(
      'spend: unavailable (/switchyard/spend answered 503: the PostgreSQL database (storage.ledger) cannot be reached (ECONNREFUSED): try again shortly)',
    );
  });

  it('--json prints the raw state', async () => {
    capture();
    expect(await statusCommand(['--url', url, '--json'], { SWITCHYARD_ADMIN_TOKEN: 'tok' })).toBe(0);
    expect(JSON.parse(out)).toEqual(STATE);
  });

  it('exits 1 with a clear message when the sidecar refuses, 2 on bad usage', async () => {
    capture();
    expect(await statusCommand(['--url', url], {})).toBe(1);
    expect(err).toMatch(/needs an admin token; set SWITCHYARD_ADMIN_TOKEN/);
    // A token the sidecar refuses is named as the wrong one, not as a missing one.
    expect(await statusCommand(['--url', url], { SWITCHYARD_ADMIN_TOKEN: 'wrong' })).toBe(1);
    expect(err).toMatch(/the admin token sent \(SWITCHYARD_ADMIN_TOKEN, else --url's \?token=\) is not the sidecar's/);
    expect(await statusCommand(['--url', 'ftp://x'], {})).toBe(2);
    expect(await statusCommand(['--bogus'], {})).toBe(2);
    // A port no URL can have is a usage error, not "cannot reach" (exit 1), and the URL is shown without its secrets.
    expect(await statusCommand(['--url', 'http://user:s3cret@127.0.0.1:99999/?token=abc'], {})).toBe(2);
    expect(err).not.toContain('s3cret');
    expect(err).not.toContain('abc');
    for (const u of ['http://admin:pa/ss@127.0.0.1:99999', 'http://admin:p@ss@word@[::1', 'http://127.0.0.1:99999/#access_token=SECRETFRAG']) {
      err = '';
      expect(await statusCommand(['--url', u], {})).toBe(2);
      expect(err, u).not.toMatch(/pa\/ss|ss@word|SECRETFRAG/);
    }
  });

  it("the URLs a user has at hand name the sidecar: the SDK's /v1, the banner's state and inspector URLs, with a query; a password is never shown", async () => {
    capture();
    for (const u of [`${url}/v1`, `${url}/switchyard/state`, `${url}/switchyard/inspect?token=x`, `${url}/?x=1#f`]) {
      out = '';
      expect(await statusCommand(['--url', u], { SWITCHYARD_ADMIN_TOKEN: 'tok' }), u).toBe(0);
      expect(out).toContain(`switchyard ${url} `);
    }
    out = '';
    expect(await statusCommand(['--url', url.replace('http://', 'http://u:secretpw@')], { SWITCHYARD_ADMIN_TOKEN: 'tok' })).toBe(0);
    expect(out).not.toContain('secretpw');
  });

  it('a body that stalls after its headers, the sidecar\'s own 401 reason, a token a header cannot carry: each said plainly (a stack trace, "needs an admin token", "cannot reach")', async () => {
    capture();
    expect(await statusCommand(['--url', `${url}/stall`], { SWITCHYARD_ADMIN_TOKEN: 'tok' })).toBe(1);
    expect(err).toMatch(/answered 200, but its body did not end within 5 s/);
    expect(await statusCommand(['--url', `${url}/untokened`], {})).toBe(1);
    expect(err).toMatch(/refused \/switchyard\/state \(401\): this sidecar has no SWITCHYARD_ADMIN_TOKEN: restart it with one/);
    // The server's reason, printed to a terminal, with its escape codes and line breaks escaped.
    expect(await statusCommand(['--url', `${url}/escapes`], {})).toBe(1);
    expect(err).toContain('evil \\u001b[2J\\u001b[31mcleared\\nfake line');
    expect(err).not.toContain('\x1b');
    expect(await statusCommand(['--url', `${url}/plain`], {})).toBe(1);
    expect(err).toContain('answered 503: denied \\u001b]0;pwned\\u0007\\u001b[2J');
    expect(err).not.toContain('\x1b');
    // A body without end is cut at 16 MB, not read whole.
    expect(await statusCommand(['--url', `${url}/endless`], { SWITCHYARD_ADMIN_TOKEN: 'tok' })).toBe(1);
    expect(err).toMatch(/answered 200, but its body broke off \(more than 16 MB\)/);
    expect(await statusCommand(['--url', url], { SWITCHYARD_ADMIN_TOKEN: 'tok\n' })).toBe(2);
    expect(err).toMatch(/SWITCHYARD_ADMIN_TOKEN ends in a line break/);
    expect(await statusCommand(['--url', url], { SWITCHYARD_ADMIN_TOKEN: 'tök' })).toBe(2);
    expect(err).toMatch(/a character an HTTP header cannot carry/);
  }, 15_000);
});
