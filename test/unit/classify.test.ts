import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { classify, excerpt, isTier, keywordHits, requiredCapabilities, userText, type ClassifyInput } from '../../src/routing/classify.js';
import { order, seededRng, type Scored, type Strategy } from '../../src/routing/strategy.js';
import { configSchema, type ClassifierConfig } from '../../src/config/schema.js';

const DEFAULTS: ClassifierConfig = configSchema.parse({ providers: {}, models: {} }).routing.classifier;
/** The seed's keyword rule, configured explicitly (the default list is empty since issue 11: the scorer decides). */
const CFG: ClassifierConfig = {
  ...DEFAULTS,
  complexityKeywords: ['analysiere', 'vergleiche', 'evaluiere', 'entwickle', 'detailed', 'complex', 'architect', 'design'],
};
/** Thresholds that put every score on balanced, to test the rules around the scorer. */
const ALL_BALANCED = { thresholds: { balanced: 0, highQuality: 1 } };
const input = (text: string, over: Partial<ClassifyInput> = {}): ClassifyInput => ({
  task: null,
  tier: null,
  text,
  promptTokens: Math.ceil(text.length / 4),
  turns: 1,
  ...over,
});

describe('classify: seed examples', () => {
  it('"Hallo, wie geht es dir?" with task greeting → fast_cheap', () => {
    const c = classify(input('Hallo, wie geht es dir?', { task: 'greeting' }), CFG);
    expect(c.tier).toBe('fast_cheap');
    expect(c.reason).toContain('greeting');
  });

  it('"Erkläre Quantencomputing": no hint, no keyword → the scorer decides and says why', () => {
    const c = classify(input('Erkläre Quantencomputing'), DEFAULTS);
    expect(c.score).toBeGreaterThan(0);
    expect(c.score).toBeLessThan(1);
    expect(c.reason).toMatch(/^score 0\.\d{2,6} (>=|<) 0\.\d{2,6}(, < 0\.\d{2,6})? → (fast_cheap|balanced|high_quality): /);
    expect(c.reason).toContain(c.tier);
    // "Erkläre" is an explanation cue in German: its contribution is named in the reason.
    expect(c.reason).toContain('kind:explain');
    expect(classify(input('Erkläre Quantencomputing'), DEFAULTS, ALL_BALANCED).tier).toBe('balanced');
  });

  it('"Analysiere die Architektur einer Microservices-Anwendung" with task analysis → high_quality', () => {
    const text = 'Analysiere die Architektur einer Microservices-Anwendung';
    expect(classify(input(text, { task: 'analysis' }), CFG).tier).toBe('high_quality');
    // Without the hint: one keyword ("Architektur" is not the whole word "architect") → the scorer.
    expect(classify(input(text), CFG, ALL_BALANCED)).toMatchObject({ tier: 'balanced', keywordHits: ['analysiere'] });
    expect(classify(input(text), CFG).reason).toMatch(/^1 complexity keyword\(s\) < 3; score /);
  });
});

describe('classify: hints', () => {
  it('a tier header forces the tier over task and keywords', () => {
    const c = classify(input('analysiere, vergleiche, evaluiere', { task: 'analysis', tier: 'fast_cheap' }), CFG);
    expect(c).toEqual({
      tier: 'fast_cheap',
      reason: 'tier forced by x-switchyard-tier: fast_cheap; task "analysis" ignored (x-switchyard-tier decides)',
      keywordHits: [],
    });
  });

  it('the task ignored beside a tier is shown as an unknown task is: as sent, 32 bytes at most, quotes and non-ASCII bytes percent-encoded', () => {
    const task = `Say "hi" ${'x'.repeat(40)}`;
    const forced = classify(input('hello', { task, tier: 'balanced' }), CFG).reason;
    const unknown = classify(input('hello', { task }), CFG).reason;
    const shown = 'Say %22hi%22 xxxxxxxxxxxxxxxxxxxxxxx...';
    expect(forced).toBe(`tier forced by x-switchyard-tier: balanced; task "${shown}" ignored (x-switchyard-tier decides)`);
    expect(unknown).toContain(`unknown task "${shown}" ignored`);
  });

  it('an unknown tier header is ignored', () => {
    expect(isTier('ultra')).toBe(false);
    expect(classify(input('hi', { tier: 'ultra', task: 'greeting' }), CFG).tier).toBe('fast_cheap');
  });

  it('simple and complex tasks from the classifier config', () => {
    for (const t of ['greeting', 'simple_qa', 'translation']) expect(classify(input('x', { task: t }), CFG).tier, t).toBe('fast_cheap');
    for (const t of ['analysis', 'creative']) expect(classify(input('x', { task: t }), CFG).tier, t).toBe('high_quality');
    // The spec's other tasks keep the seed's "else balanced", whatever the scorer would say.
    for (const t of ['chat', 'code', 'explanation', 'longform']) {
      expect(classify(input('hi', { task: t }), CFG), t).toMatchObject({
        tier: 'balanced',
        reason: `task "${t}" → balanced (no tier list names it)`,
        score: null,
      });
      expect(classify(input('hi', { task: t.toUpperCase() }), CFG).tier, t).toBe('balanced');
    }
  });

  it('maps tasks named in config `tasks`, trimmed and case-insensitive, before the built-in lists', () => {
    const cfg: ClassifierConfig = { ...CFG, tasks: { summarize: 'fast_cheap', legal: 'high_quality', greeting: 'balanced' } };
    expect(classify(input('x', { task: ' Summarize ' }), cfg)).toMatchObject({ tier: 'fast_cheap', reason: 'task "summarize" → fast_cheap (config)' });
    expect(classify(input('x', { task: 'legal' }), cfg).tier).toBe('high_quality');
    expect(classify(input('x', { task: 'greeting' }), cfg).tier).toBe('balanced');
    expect(classify(input('x', { task: 'legal' }), CFG, ALL_BALANCED).tier).toBe('balanced');
  });

  it('an unknown task hint is ignored, and the reason says so', () => {
    const c = classify(input('x', { task: 'astrology' }), CFG);
    expect(c.reason).toMatch(/^unknown task "astrology" ignored; score /);
    expect(c.score).not.toBeNull();
    expect(c.tier).toBe(classify(input('x'), CFG).tier);
  });
});

describe('the keyword rule counts distinct keywords', () => {
  it('one keyword said three times is one keyword, not three', () => {
    expect(classify(input('design design design'), CFG).reason).toMatch(/^1 complexity keyword\(s\) < 3; score /);
    expect(classify(input('design, architect and a detailed design'), CFG)).toMatchObject({
      tier: 'high_quality',
      reason: '3 complexity keywords (design, architect, detailed) ≥ 3 → high_quality',
    });
  });
});

describe('keyword hits', () => {
  it('a keyword in a script without spaces matches inside a sentence of it (Chinese, Japanese, Thai)', () => {
    expect(keywordHits('证明这个定理', ['证明'])).toEqual(['证明']);
    expect(keywordHits('この定理を証明してください', ['証明'])).toEqual(['証明']);
    expect(keywordHits('ช่วยพิสูจน์ทฤษฎีบทนี้', ['พิสูจน์'])).toEqual(['พิสูจน์']);
    // Latin keywords keep their word boundaries.
    expect(keywordHits('disprove this', ['prove'])).toEqual([]);
    expect(keywordHits('prove this; 证明', ['prove', '证明'])).toEqual(['prove', '证明']);
  });

  it('are looked for in the last user turn only: a "thanks!" after a hard exchange is not hard', () => {
    const messages = [
      { role: 'user', content: 'Analysiere und vergleiche die detailed complex design.' },
      { role: 'assistant', content: 'Here it is.' },
      { role: 'user', content: [{ type: 'text', text: 'thanks!' }] },
    ];
    expect(userText(messages)).toBe('thanks!');
    expect(classify(input(userText(messages)), CFG).reason).not.toMatch(/complexity keyword/);
    expect(
      userText([
        { role: 'user', content: 'a' },
        { role: 'assistant', content: 'b' },
      ]),
    ).toBe('a');
    expect(userText([{ role: 'system', content: 'a' }])).toBe('');
  });

  it('match whole words only', () => {
    expect(keywordHits('The designer designs a design.', ['design'])).toEqual(['design']);
    expect(keywordHits('redesign', ['design'])).toEqual([]);
    expect(keywordHits('design_doc design-doc', ['design'])).toEqual(['design']);
  });

  it('are case-insensitive and reported lower-case', () => {
    expect(keywordHits('DESIGN this, Design that', ['design'])).toEqual(['design', 'design']);
  });

  it('are Unicode-aware: umlauts and ß match across case', () => {
    expect(keywordHits('Welche Größe hat das Feld?', ['größe'])).toEqual(['größe']);
    expect(keywordHits('ÜBER alles', ['über'])).toEqual(['über']);
    expect(keywordHits('Gro\u0308ße (decomposed)', ['größe'])).toEqual(['größe']);
  });

  it('respect word boundaries next to umlauts', () => {
    expect(keywordHits('Testübung', ['test'])).toEqual([]);
    expect(keywordHits('Übertest', ['test'])).toEqual([]);
    expect(keywordHits('größer', ['größe'])).toEqual([]);
    expect(keywordHits('Kleingröße', ['größe'])).toEqual([]);
    expect(keywordHits('Überblick', ['über'])).toEqual([]);
    expect(keywordHits('die Größe!', ['größe'])).toEqual(['größe']);
  });

  it('escape regex characters in keywords', () => {
    expect(keywordHits('write c++ code, not cxx', ['c++'])).toEqual(['c++']);
    expect(keywordHits('a.b', ['a.b'])).toEqual(['a.b']);
    expect(keywordHits('axb', ['a.b'])).toEqual([]);
  });

  it('≥ threshold → high_quality, the reason naming the keywords', () => {
    const c = classify(input('Analysiere und vergleiche die Optionen, dann evaluiere sie.'), CFG);
    expect(c.tier).toBe('high_quality');
    expect(c.keywordHits).toEqual(['analysiere', 'vergleiche', 'evaluiere']);
    expect(c.reason).toBe('3 complexity keywords (analysiere, vergleiche, evaluiere) ≥ 3 → high_quality');
  });

  it('below the threshold → balanced', () => {
    const c = classify(input('A detailed and complex question'), CFG, ALL_BALANCED);
    expect(c).toMatchObject({
      tier: 'balanced',
      reason: expect.stringMatching(/^2 complexity keyword\(s\) < 3; score 0\.\d\d >= 0\.00, < 1\.00 → balanced: /),
      keywordHits: ['detailed', 'complex'],
    });
    expect(classify(input('A detailed and complex question'), { ...CFG, complexityThreshold: 2 }).tier).toBe('high_quality');
  });

  it('a long prompt → high_quality', () => {
    expect(classify(input('hi', { promptTokens: CFG.longPromptTokens + 1 }), CFG)).toMatchObject({
      tier: 'high_quality',
      reason: expect.stringContaining('long prompt'),
    });
    expect(classify(input('hi', { promptTokens: CFG.longPromptTokens }), CFG).score).not.toBeNull();
  });
});

describe('requiredCapabilities', () => {
  const text = [{ role: 'user', content: 'hi' }];
  it('none for a plain chat', () => {
    expect(requiredCapabilities({ messages: text })).toEqual([]);
    expect(requiredCapabilities({ messages: text, tools: [], response_format: { type: 'text' } })).toEqual([]);
  });
  it('image_url → vision, tools → tools, json_object/json_schema → json', () => {
    const image = [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'what is this' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
        ],
      },
    ];
    expect(requiredCapabilities({ messages: image })).toEqual(['vision']);
    expect(requiredCapabilities({ messages: text, tools: [{ type: 'function', function: { name: 'f' } }] })).toEqual(['tools']);
    expect(requiredCapabilities({ messages: text, response_format: { type: 'json_object' } })).toEqual(['json']);
    expect(requiredCapabilities({ messages: text, response_format: { type: 'json_schema', json_schema: {} } })).toEqual(['json']);
    expect(requiredCapabilities({ messages: image, tools: [{}], response_format: { type: 'json_schema' } })).toEqual(['vision', 'tools', 'json']);
  });
});

const sc = (item: string, latencyMs: number, opts: { cost?: number; inFlight?: number } = {}): Scored<string> => ({
  item,
  latencyMs,
  cost: opts.cost ?? 0,
  inFlight: opts.inFlight ?? 0,
});
const firstPickShares = (xs: Scored<string>[], strategy: Strategy, draws: number, seed: number): Map<string, number> => {
  const rng = seededRng(seed);
  const counts = new Map<string, number>();
  for (let i = 0; i < draws; i++) {
    const first = order(xs, strategy, rng)[0] ?? '';
    counts.set(first, (counts.get(first) ?? 0) + 1);
  }
  return new Map([...counts].map(([k, n]) => [k, n / draws]));
};

describe('strategy', () => {
  it('cost: cheapest first, ties broken by latency', () => {
    const xs = [sc('a', 10, { cost: 300 }), sc('b', 50, { cost: 100 }), sc('c', 20, { cost: 100 }), sc('d', 5, { cost: 200 })];
    expect(order(xs, 'cost')).toEqual(['c', 'b', 'd', 'a']);
  });

  it('weighted: first pick in proportion to 1/latency over 20 000 draws', () => {
    const shares = firstPickShares([sc('fast', 100), sc('mid', 200), sc('slow', 400)], 'weighted', 20_000, 42);
    expect(Math.abs((shares.get('fast') ?? 0) - 4 / 7)).toBeLessThan(0.02);
    expect(Math.abs((shares.get('mid') ?? 0) - 2 / 7)).toBeLessThan(0.02);
    expect(Math.abs((shares.get('slow') ?? 0) - 1 / 7)).toBeLessThan(0.02);
  });

  it('latency: with two endpoints, always the lower latency × (in-flight + 1) first', () => {
    const rng = seededRng(1);
    for (let i = 0; i < 500; i++) {
      expect(order([sc('slow', 900), sc('fast', 100)], 'latency', rng)[0]).toBe('fast');
      expect(order([sc('busy', 100, { inFlight: 9 }), sc('idle', 300)], 'latency', rng)[0]).toBe('idle');
    }
  });

  it('latency: never the worse of its two draws (first-pick shares match power of two choices)', () => {
    // Loads 100, 200, 300, 5000. Two distinct uniform draws out of 4: rank k (1 = best) wins
    // with probability 2(4-k)/12 → 1/2, 1/3, 1/6, 0.
    const xs = [sc('c', 300), sc('slow', 5000), sc('a', 100), sc('b', 50, { inFlight: 3 })];
    const shares = firstPickShares(xs, 'latency', 20_000, 7);
    expect(shares.get('slow') ?? 0).toBe(0);
    expect(Math.abs((shares.get('a') ?? 0) - 1 / 2)).toBeLessThan(0.02);
    expect(Math.abs((shares.get('b') ?? 0) - 1 / 3)).toBeLessThan(0.02);
    expect(Math.abs((shares.get('c') ?? 0) - 1 / 6)).toBeLessThan(0.02);
  });

  it('latency: avoids an overloaded endpoint most of the time and ranks the rest by load', () => {
    const xs = [sc('hot', 80, { inFlight: 40 }), sc('e1', 100), sc('e2', 110), sc('e3', 120), sc('e4', 130)];
    const shares = firstPickShares(xs, 'latency', 5_000, 3);
    expect(shares.get('hot') ?? 0).toBe(0);
    const load = new Map(xs.map((x) => [x.item, x.latencyMs * (x.inFlight + 1)]));
    const rng = seededRng(9);
    for (let i = 0; i < 200; i++) {
      const rest = order(xs, 'latency', rng)
        .slice(1)
        .map((k) => load.get(k) ?? NaN);
      expect(rest).toEqual([...rest].sort((p, q) => p - q));
      expect(rest.at(-1)).toBe(3280);
    }
  });

  it('property: order() returns a permutation of its input for every strategy', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ cost: fc.nat({ max: 1e6 }), latencyMs: fc.nat({ max: 10_000 }), inFlight: fc.nat({ max: 100 }) }), { maxLength: 12 }),
        fc.constantFrom<Strategy>('cost', 'latency', 'weighted'),
        fc.integer(),
        (rows, strategy, seed) => {
          const xs = rows.map((r, i) => ({ ...r, item: i }));
          const out = order(xs, strategy, seededRng(seed));
          expect([...out].sort((a, b) => a - b)).toEqual(xs.map((x) => x.item));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('a hint echoed in the reason', () => {
  it('an unknown task with bytes outside printable ASCII is percent-encoded, so it reads back (it was "??bersetzen")', () => {
    // `übersetzen` as curl sends it (UTF-8), as node hands a header over (one character a byte).
    const header = Buffer.from('übersetzen', 'utf8').toString('latin1');
    const c = classify(input('x', { task: header }), CFG);
    expect(c.reason).toMatch(/^unknown task "%C3%BCbersetzen" ignored; /);
    expect(decodeURIComponent('%C3%BCbersetzen')).toBe('übersetzen');
    expect(excerpt('50% "off"')).toBe('50%25 %22off%22');
    expect(excerpt('x'.repeat(40))).toBe(`${'x'.repeat(32)}...`);
    expect(excerpt('\u4e2d')).toMatch(/^[\x20-\x7e]+$/);
    // A long UTF-8 value is cut on a character boundary: what is shown still decodes.
    const japanese = Buffer.from('日本語のタスクをここに書いてくださいこれは長い', 'utf8').toString('latin1');
    const shown = excerpt(japanese);
    expect(shown.endsWith('...')).toBe(true);
    expect(decodeURIComponent(shown.slice(0, -3))).toBe('日本語のタスクをここ');
  });
});
