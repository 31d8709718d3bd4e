import { describe, expect, it } from 'vitest';
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import { EXACT_PROMPT_CHARS, IMAGE_PART_TOKENS, countPromptTokens, countTextTokens } from '../../src/accounting/tokens.js';

describe('countTextTokens (o200k_base)', () => {
  it('counts known strings', () => {
    expect(countTextTokens('')).toBe(0);
    expect(countTextTokens('hello world')).toBe(2); // [24912, 2375]
    expect(countTextTokens('You are a helpful assistant.')).toBe(6);
    expect(countTextTokens('What is in this image?')).toBe(6);
  });

  it('uses o200k, not cl100k (they differ on non-English text)', () => {
    expect(countTextTokens('こんにちは世界')).toBe(2); // cl100k: 4
    expect(countTextTokens('Wie spät ist es in Zürich?')).toBe(7); // cl100k: 10
  });

  it('agrees with gpt-tokenizer on a long mixed text', () => {
    const text = 'Routing a request: ' + 'The quick brown fox 🦊 jumps over the lazy dog. '.repeat(50) + 'Ende.';
    expect(countTextTokens(text)).toBe(encode(text).length);
  });

  it('counts special-token text as plain text instead of throwing', () => {
    expect(countTextTokens('<|endoftext|>')).toBe(7);
    expect(countTextTokens('before <|im_start|> after')).toBeGreaterThan(3);
  });
});

describe('countPromptTokens', () => {
  it('adds 3 per message, the role, the content and 3 for the reply', () => {
    const messages = [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Hi' },
    ];
    // (3 + 1 + 6) + (3 + 1 + 1) + 3
    expect(countPromptTokens(messages)).toBe(18);
    expect(countPromptTokens([])).toBe(3);
  });

  it("a file part (a PDF by its bytes) counts its name, not its base64 (a 600 KB PDF was 'over 540,000 tokens', over every Claude window)", () => {
    const data = Buffer.alloc(600_000, 7).toString('base64');
    const pdf = {
      role: 'user',
      content: [
        { type: 'file', file: { filename: 'report.pdf', file_data: `data:application/pdf;base64,${data}` } },
        { type: 'text', text: 'Summarise.' },
      ],
    };
    const bare = { role: 'user', content: [{ type: 'text', text: 'Summarise.' }] };
    expect(countPromptTokens([pdf]) - countPromptTokens([bare])).toBe(countTextTokens('report.pdf'));
    expect(countPromptTokens([{ role: 'user', content: [{ type: 'file', file: { file_id: 'file-abc' } }] }])).toBe(
      countPromptTokens([{ role: 'user', content: [] }]),
    );
  });

  it('a prompt past EXACT_PROMPT_CHARS is counted in windows over all its texts: close to the exact count', () => {
    // 100,000 short messages (a Responses input of 100,000 items): 3 + user(1) + 'hello there friend'(3) each, + 3.
    const messages = Array.from({ length: 100_000 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: 'hello there friend' }));
    const exact = 100_000 * 7 + 3;
    const n = countPromptTokens(messages);
    expect(Math.abs(n - exact) / exact).toBeLessThan(0.02);
    // Below the limit, exact as before.
    expect(countPromptTokens(messages.slice(0, 500))).toBe(500 * 7 + 3);
    expect(EXACT_PROMPT_CHARS).toBe(16 * 1024);
  });

  it('a long prompt is sampled over all its texts, not counted at the rate of its head: English then Chinese, within 3 % (it was 56 % under)', () => {
    const english = 'The quick brown fox jumps over the lazy dog while the committee reviews the quarterly report. '.repeat(180);
    let chinese = '';
    while (chinese.length < 25_000) chinese += '我们今天讨论的是关于人工智能在医疗领域的应用以及未来的发展方向和可能遇到的挑战。';
    const messages = [
      { role: 'system', content: english },
      { role: 'user', content: 'Please summarise this document:' },
      { role: 'user', content: chinese },
    ];
    const exact = 3 + messages.reduce((n, m) => n + 3 + encode(m.role).length + encode(m.content).length, 0);
    expect(Math.abs(countPromptTokens(messages) - exact) / exact).toBeLessThan(0.03);
    // And the other way round (Chinese first), and many turns alternating.
    const reversed = [messages[2]!, messages[1]!, messages[0]!];
    expect(Math.abs(countPromptTokens(reversed) - exact) / exact).toBeLessThan(0.03);
    const turns = Array.from({ length: 60 }, (_, i) => ({
      role: i % 2 ? 'assistant' : 'user',
      content: i % 3 ? english.slice(0, 900) : chinese.slice(0, 300),
    }));
    const exactTurns = 3 + turns.reduce((n, m) => n + 3 + encode(m.role).length + encode(m.content).length, 0);
    expect(Math.abs(countPromptTokens(turns) - exactTurns) / exactTurns).toBeLessThan(0.05);
  });

  it('adds 1 plus the name tokens for a named message', () => {
    // 3 + user(1) + Hi(1) + 1 + alice(1) + 3
    expect(countPromptTokens([{ role: 'user', content: 'Hi', name: 'alice' }])).toBe(10);
  });

  it('counts text parts of array content and 85 per image part', () => {
    const messages = [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this image?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,' + 'A'.repeat(10_000), detail: 'high' } },
          { type: 'image_url', image_url: { url: 'https://example.com/b.png' } },
        ],
      },
    ];
    // 3 + user(1) + 6 + 2 × 85 + 3
    expect(countPromptTokens(messages)).toBe(13 + 2 * IMAGE_PART_TOKENS);
    expect(IMAGE_PART_TOKENS).toBe(85);
  });

  it('counts null content as nothing and other shapes by their JSON', () => {
    expect(countPromptTokens([{ role: 'assistant', content: null }])).toBe(3 + 1 + 3);
    const audio = { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } };
    expect(countPromptTokens([{ role: 'user', content: [audio] }])).toBe(3 + 1 + countTextTokens(JSON.stringify(audio)) + 3);
  });

  it('counts tool calls and tool definitions by their JSON text', () => {
    const toolCalls = [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Zürich"}' } }];
    const tools = [
      {
        type: 'function',
        function: { name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
      },
    ];
    const messages = [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: null, tool_calls: toolCalls },
    ];
    const without = countPromptTokens(messages.slice(0, 1));
    const withCall = countPromptTokens(messages);
    expect(withCall).toBe(without + 3 + countTextTokens('assistant') + countTextTokens(JSON.stringify(toolCalls)));
    expect(countPromptTokens(messages, tools)).toBe(withCall + countTextTokens(JSON.stringify(tools)));
    expect(countPromptTokens(messages, undefined)).toBe(withCall);
  });

  it('is fast enough to run on every request (2 KB prompt)', () => {
    const words = ['budget', 'latency', 'endpoint', 'Zürich', 'fallback', 'stream', '429', 'tokens', 'über', 'model'];
    const prompt = (seed: number): string => {
      let s = '';
      for (let i = 0; s.length < 2048; i += 1) s += words[(i * 7 + seed) % words.length] + (i % 13 === 0 ? '.\n' : ' ');
      return s.slice(0, 2048);
    };
    const coldStart = performance.now();
    const cold = countPromptTokens([{ role: 'user', content: prompt(-1) + 'cold' }]);
    const coldUs = (performance.now() - coldStart) * 1000;
    const runs = 500;
    const inputs = Array.from({ length: runs }, (_, i) => [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: `${i} ${prompt(i)}` },
    ]);
    let sum = 0;
    for (const messages of inputs.slice(0, 200)) countPromptTokens(messages); // let the JIT settle
    const start = performance.now();
    for (const messages of inputs) sum += countPromptTokens(messages);
    const perCallUs = ((performance.now() - start) * 1000) / runs;
    console.log(`countPromptTokens, 2 KB prompt: first call ${coldUs.toFixed(0)} µs, warm ${perCallUs.toFixed(1)} µs per call (mean of ${runs})`);
    expect(cold).toBeGreaterThan(300);
    expect(sum).toBeGreaterThan(runs * 300);
  });
});
