/**
 * What a provider bills at rates the catalogue has no price for is refused at the edge, for every
 * model kind: an OpenAI-kind upstream was sent it as written and the call was reserved and recorded
 * at the standard text rates.
 */
import { describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../src/errors.js';
import { parseChatBody, parseChatBodyZod } from '../../src/http/validate.js';

const base = { model: 'gpt-4.1', messages: [{ role: 'user', content: 'hi' }] };

function refusal(body: Record<string, unknown>): SwitchyardError {
  let fast: unknown;
  let slow: unknown;
  try {
    parseChatBody(structuredClone(body));
  } catch (err) {
    fast = err;
  }
  try {
    parseChatBodyZod(structuredClone(body));
  } catch (err) {
    slow = err;
  }
  if (!(fast instanceof SwitchyardError)) throw new Error(`not refused: ${JSON.stringify(body)}`);
  // Both paths end in the same rules.
  expect(slow).toBeInstanceOf(SwitchyardError);
  expect((slow as SwitchyardError).message).toBe(fast.message);
  return fast;
}

describe('edge validation: what the catalogue cannot price', () => {
  it.each(['priority', 'flex', 'scale'])('refuses service_tier %s, naming the field and the tiers it takes', (tier) => {
    const err = refusal({ ...base, service_tier: tier });
    expect(err.status).toBe(400);
    expect(err.code).toBe('invalid_request');
    expect(err.param).toBe('service_tier');
    expect(err.message).toContain(`"${tier}"`);
    expect(err.message).toMatch(/"auto" or "default"/);
  });

  it.each([undefined, null, 'auto', 'default'])('serves service_tier %s', (tier) => {
    expect(() => parseChatBody({ ...base, ...(tier === undefined ? {} : { service_tier: tier }) })).not.toThrow();
  });

  it('refuses web_search_options (billed per search, outside the reservation)', () => {
    const err = refusal({ ...base, web_search_options: {} });
    expect(err.param).toBe('web_search_options');
    expect(err.message).toMatch(/each search/);
    expect(() => parseChatBody({ ...base, web_search_options: null })).not.toThrow();
  });

  it('refuses a 1-hour cache write on any part, message or tool (billed at twice the input price, above cacheWritePerMTok), for every endpoint kind', () => {
    const part = { type: 'text', text: 'hi', cache_control: { type: 'ephemeral', ttl: '1h' } };
    expect(refusal({ ...base, messages: [{ role: 'user', content: [part] }] }).param).toBe('messages[0].content[0].cache_control.ttl');
    expect(refusal({ ...base, messages: [{ role: 'user', content: 'hi', cache_control: { type: 'ephemeral', ttl: '1h' } }] }).param).toBe(
      'messages[0].cache_control.ttl',
    );
    expect(
      refusal({ ...base, tools: [{ type: 'function', function: { name: 'f', parameters: {} }, cache_control: { type: 'ephemeral', ttl: '1h' } }] }).param,
    ).toBe('tools[0].cache_control.ttl');
    expect(refusal({ ...base, messages: [{ role: 'user', content: [part] }] }).message).toMatch(/twice the input price/);
    expect(
      refusal({ ...base, tools: [{ type: 'function', function: { name: 'f', parameters: {}, cache_control: { type: 'ephemeral', ttl: '1h' } } }] }).param,
    ).toBe('tools[0].function.cache_control.ttl');
    expect(refusal({ ...base, messages: [{ role: 'user', content: [{ ...part, cache_control: { type: 'ephemeral', ttl: '3600s' } }] }] }).param).toBe(
      'messages[0].content[0].cache_control.ttl',
    );
    // The 5-minute cache is served.
    expect(() => parseChatBody({ ...base, messages: [{ role: 'user', content: [{ ...part, cache_control: { type: 'ephemeral' } }] }] })).not.toThrow();
  });

  it('refuses audio output, by modalities or by the audio field', () => {
    expect(refusal({ ...base, modalities: ['text', 'audio'] }).param).toBe('modalities');
    expect(refusal({ ...base, audio: { voice: 'alloy', format: 'wav' } }).param).toBe('audio');
    expect(() => parseChatBody({ ...base, modalities: ['text'] })).not.toThrow();
  });

  it('refuses image output (OpenRouter\'s modalities ["image", "text"]: pictures billed at an image rate, not models.<id>.price)', () => {
    const err = refusal({ ...base, modalities: ['image', 'text'] });
    expect(err.status).toBe(400);
    expect(err.param).toBe('modalities');
    expect(err.message).toContain('modalities "image" is not supported');
    expect(refusal({ ...base, modalities: ['text', 'video'] }).param).toBe('modalities');
    expect(() => parseChatBody({ ...base, modalities: null })).not.toThrow();
  });

  it("refuses aggregators' paid extras (OpenRouter plugins, xAI live search) and built-in tool types; function and custom tools pass", () => {
    expect(refusal({ ...base, plugins: [{ id: 'web' }] }).param).toBe('plugins');
    expect(refusal({ ...base, search_parameters: { mode: 'on' } }).param).toBe('search_parameters');
    const fn = { type: 'function', function: { name: 'f', parameters: { type: 'object' } } };
    for (const type of ['web_search', 'web_search_preview', 'google_search']) {
      const err = refusal({ ...base, tools: [fn, { type }] });
      expect(err.param).toBe('tools[1].type');
      expect(err.message).toMatch(/a built-in tool runs and bills at the provider/);
    }
    expect(() => parseChatBody({ ...base, tools: [fn, { type: 'custom', custom: { name: 'c' } }] })).not.toThrow();
  });

  it("refuses fallbacks the upstream would run itself (OpenRouter's models, LiteLLM's fallbacks): another model's answer at its prices", () => {
    for (const field of ['models', 'fallbacks']) {
      const err = refusal({ ...base, [field]: ['anthropic/claude-opus-4'] });
      expect(err.status).toBe(400);
      expect(err.param).toBe(field);
      expect(err.message).toMatch(/billed at their prices/);
      expect(refusal({ ...base, [field]: 'anthropic/claude-opus-4' }).param).toBe(field);
      expect(() => parseChatBody({ ...base, [field]: [] })).not.toThrow();
      expect(() => parseChatBody({ ...base, [field]: null })).not.toThrow();
    }
  });

  it('a value that is no string where the message quotes it (an object whose toString is not a function) is quoted as JSON: a 400, not a TypeError (a 500)', () => {
    const odd = { toString: { x: 1 } };
    expect(refusal({ ...base, tools: [{ type: odd, function: { name: 'f', parameters: { type: 'object' } } }] }).message).toContain(
      'tool type {"toString":{"x":1}}',
    );
    expect(refusal({ ...base, service_tier: odd }).param).toBe('service_tier');
    expect(refusal({ ...base, response_format: { type: odd } }).param).toBe('response_format.type');
  });

  it("refuses an assistant turn's audio (a reference to an earlier audio answer, billed as audio input)", () => {
    const err = refusal({
      ...base,
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: null, audio: { id: 'audio_abc' } },
        { role: 'user', content: 'again' },
      ],
    });
    expect(err.param).toBe('messages[1].audio');
  });

  it('refuses an input_audio part, naming where it is', () => {
    const err = refusal({
      ...base,
      messages: [
        { role: 'system', content: 'be brief' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'what is said here?' },
            { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
          ],
        },
      ],
    });
    expect(err.param).toBe('messages[1].content[1]');
    expect(err.message).toMatch(/audio input is not supported/);
  });
});

describe('edge validation: an image or file part with nothing to send', () => {
  const withPart = (part: unknown) => ({ ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 'look' }, part] }] });
  it.each([
    [{ type: 'image_url' }, 'messages[0].content[1].image_url.url'],
    [{ type: 'image_url', image_url: { url: 5 } }, 'messages[0].content[1].image_url.url'],
    [{ type: 'image_url', image_url: {} }, 'messages[0].content[1].image_url.url'],
    [{ type: 'image_url', image_url: { url: 'data:image/png;base64,' } }, 'messages[0].content[1].image_url.url'],
    [{ type: 'image_url', image_url: { url: ' ' } }, 'messages[0].content[1].image_url.url'],
    [{ type: 'file', file: 7 }, 'messages[0].content[1].file'],
    [{ type: 'file', file: {} }, 'messages[0].content[1].file'],
    [{ type: 'file', file: { filename: 'a.pdf' } }, 'messages[0].content[1].file'],
  ])('%j is a 400 naming %s (an OpenAI-kind model was sent it and billed)', (part, param) => {
    const err = refusal(withPart(part));
    expect(err.status).toBe(400);
    expect(err.param).toBe(param);
    expect(err.message).toMatch(/^Missing required parameter/);
  });

  it.each([
    { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'low' } },
    { type: 'image_url', image_url: 'https://example.com/a.png' },
    { type: 'file', file: { file_id: 'file-abc' } },
    { type: 'file', file: { file_data: 'data:application/pdf;base64,JVBERi0=', filename: 'a.pdf' } },
  ])('%j is taken', (part) => {
    expect(() => parseChatBody(structuredClone(withPart(part)))).not.toThrow();
  });
});

describe('edge validation: a tool with nothing to call', () => {
  it.each([
    [[{ type: 'function' }], 'tools[0].function'],
    [
      [
        { type: 'function', function: { name: 'ok' } },
        { type: 'function', function: { parameters: {} } },
      ],
      'tools[1].function.name',
    ],
    [[{ function: { name: '' } }], 'tools[0].function.name'],
    [[{ type: 'custom', function: { name: 'x' } }], 'tools[0].custom'],
  ])('refuses %j naming %s (it was sent upstream as written)', (tools, param) => {
    const err = refusal({ ...base, tools });
    expect([err.status, err.code, err.param]).toEqual([400, 'invalid_request', param]);
    expect(err.message).toMatch(/^Missing required parameter: /);
  });

  it('takes function and custom tools with names', () => {
    const tools = [
      { type: 'function', function: { name: 'lookup', parameters: { type: 'object' } } },
      { type: 'custom', custom: { name: 'grammar' } },
    ];
    expect(parseChatBody(structuredClone({ ...base, tools })).tools).toEqual(tools);
  });
});

describe('edge validation: parallel_tool_calls', () => {
  it.each([['false'], [0], [{}]])('refuses %j as OpenAI does (an Anthropic-kind model dropped it)', (value) => {
    const tools = [{ type: 'function', function: { name: 'lookup' } }];
    const err = refusal({ ...base, tools, parallel_tool_calls: value });
    expect([err.status, err.code, err.param]).toEqual([400, 'invalid_request', 'parallel_tool_calls']);
    expect(err.message).toMatch(/expected a boolean/);
  });
  it('takes a boolean or null', () => {
    const tools = [{ type: 'function', function: { name: 'lookup' } }];
    for (const v of [true, false, null]) expect(parseChatBody(structuredClone({ ...base, tools, parallel_tool_calls: v })).tools).toEqual(tools);
  });
});

describe('edge validation: a tool choice names a declared tool of its kind', () => {
  const tools = [
    { type: 'function', function: { name: 'lookup' } },
    { type: 'custom', custom: { name: 'shell' } },
  ];
  it.each([
    [{ type: 'custom', custom: { name: 'nope' } }, 'tool_choice', /custom "nope" is not in 'tools'/],
    [{ type: 'custom', custom: { name: 'lookup' } }, 'tool_choice', /custom "lookup" is not in 'tools' \(declared: shell\)/],
    [{ type: 'function', function: { name: 'shell' } }, 'tool_choice', /function "shell" is not in 'tools' \(declared: lookup\)/],
    [{ type: 'custom' }, 'tool_choice', /a custom choice is/],
    [
      { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'nope' } }] } },
      'tool_choice.allowed_tools.tools[0]',
      /function "nope"/,
    ],
    [
      {
        type: 'allowed_tools',
        allowed_tools: {
          mode: 'auto',
          tools: [
            { type: 'function', function: { name: 'lookup' } },
            { type: 'custom', custom: { name: 'x' } },
          ],
        },
      },
      'tool_choice.allowed_tools.tools[1]',
      /custom "x"/,
    ],
    [
      { type: 'allowed_tools', allowed_tools: { mode: 'sometimes', tools: [{ type: 'function', function: { name: 'lookup' } }] } },
      'tool_choice.allowed_tools.mode',
      /"sometimes"; supported values are "auto" and "required"/,
    ],
    [{ type: 'allowed_tools', allowed_tools: { tools: [{ type: 'function', function: { name: 'lookup' } }] } }, 'tool_choice.allowed_tools.mode', /missing/],
    // Kinds chat completions do not know went upstream as they were (OpenAI refused them, other providers read "auto").
    ['any', 'tool_choice', /"any". Supported values are: "none", "auto" and "required"/],
    [{ type: 'auto' }, 'tool_choice.type', /type "auto" is not one of them/],
    [{ type: 'tool', name: 'lookup' }, 'tool_choice.type', /type "tool" is not one of them/],
    [['auto'], 'tool_choice', /expected "none", "auto", "required"/],
    [7, 'tool_choice', /expected "none", "auto", "required"/],
    [{ type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [] } }, 'tool_choice.allowed_tools', /expected/],
  ])('refuses %j (naming %s) before anything is sent', (tool_choice, param, message) => {
    const err = refusal({ ...base, tools, tool_choice });
    expect([err.status, err.code, err.param]).toEqual([400, 'invalid_request', param]);
    expect(err.message).toMatch(message);
  });
  it('takes choices that name declared tools', () => {
    for (const tool_choice of [
      'none',
      'auto',
      'required',
      { type: 'custom', custom: { name: 'shell' } },
      { type: 'function', function: { name: 'lookup' } },
      {
        type: 'allowed_tools',
        allowed_tools: {
          mode: 'required',
          tools: [
            { type: 'custom', custom: { name: 'shell' } },
            { type: 'function', function: { name: 'lookup' } },
          ],
        },
      },
    ])
      expect(parseChatBody(structuredClone({ ...base, tools, tool_choice })).tool_choice).toEqual(tool_choice);
  });
});
