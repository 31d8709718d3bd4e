import { describe, expect, it } from 'vitest';
import { SwitchyardError } from '../../src/errors.js';
import { PLACEHOLDER_DESCRIPTION } from '../../src/apis/tool-history.js';
import { anthropicAdapter } from '../../src/upstream/adapters/anthropic.js';
import type { BuildInput } from '../../src/upstream/adapters/types.js';
import type { ChatBody, ChatMessage } from '../../src/upstream/types.js';

function input(body: Partial<ChatBody> & Record<string, unknown>, over: Partial<BuildInput> = {}): BuildInput {
  return {
    body: { model: 'claude', messages: [{ role: 'user', content: 'hi' }], ...body },
    upstreamModel: 'claude-sonnet-4-5',
    stream: false,
    apiKey: 'sk-ant-test',
    headers: {},
    basePath: '',
    maxOutputTokens: 8192,
    anthropicVersion: '2023-06-01',
    prefill: null,
    ...over,
  };
}

function sent(body: Partial<ChatBody> & Record<string, unknown>, over: Partial<BuildInput> = {}): Record<string, unknown> {
  return JSON.parse(anthropicAdapter.buildRequest(input(body, over)).body) as Record<string, unknown>;
}

function refused(body: Partial<ChatBody> & Record<string, unknown>): SwitchyardError {
  try {
    anthropicAdapter.buildRequest(input(body));
  } catch (err) {
    if (err instanceof SwitchyardError) return err;
    throw err;
  }
  throw new Error('the request was not refused');
}

const msgs = (...m: ChatMessage[]): ChatMessage[] => m;

describe('anthropic buildRequest: envelope', () => {
  it('posts to /v1/messages with the Anthropic headers and the provider headers', () => {
    const req = anthropicAdapter.buildRequest(input({}, { headers: { 'anthropic-beta': 'x' } }));
    expect(req.path).toBe('/v1/messages');
    expect(req.headers).toMatchObject({
      'x-api-key': 'sk-ant-test',
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
      'anthropic-beta': 'x',
    });
    expect(req.headers.authorization).toBeUndefined();
  });

  it('does not double /v1 and sends no x-api-key without a key', () => {
    expect(anthropicAdapter.buildRequest(input({}, { basePath: '/v1' })).path).toBe('/v1/messages');
    expect(anthropicAdapter.buildRequest(input({}, { basePath: '/anthropic/' })).path).toBe('/anthropic/v1/messages');
    expect(anthropicAdapter.buildRequest(input({}, { apiKey: undefined })).headers['x-api-key']).toBeUndefined();
  });

  it('uses the upstream model, simple string content, and stream only when streaming', () => {
    expect(sent({ stream: true })).toEqual({ model: 'claude-sonnet-4-5', max_tokens: 8192, messages: [{ role: 'user', content: 'hi' }] });
    expect(sent({}, { stream: true }).stream).toBe(true);
  });

  it('sends the reserved output cap, whatever the client asked (the cap is computed by outputCap before)', () => {
    expect(sent({ max_tokens: 100 }, { maxOutputTokens: 100 }).max_tokens).toBe(100);
    expect(sent({ max_tokens: 100_000, max_completion_tokens: 200_000 }, { maxOutputTokens: 1000 }).max_tokens).toBe(1000);
    expect(sent({ max_tokens: null }, { maxOutputTokens: 4096 }).max_tokens).toBe(4096);
  });

  it('maps temperature, top_p, stop, user', () => {
    expect(sent({ temperature: 0.2, stop: 'END', user: 'u-1' })).toMatchObject({
      temperature: 0.2,
      stop_sequences: ['END'],
      metadata: { user_id: 'u-1' },
    });
    expect(sent({ top_p: 0.9 })).toMatchObject({ top_p: 0.9 });
    expect(sent({ stop: ['a', 'b'] }).stop_sequences).toEqual(['a', 'b']);
  });

  it("sends temperature alone when both temperature and top_p are set: Anthropic's current models refuse the two together", () => {
    const both = sent({ temperature: 0.7, top_p: 0.9 });
    expect(both.temperature).toBe(0.7);
    expect(both).not.toHaveProperty('top_p');
  });

  it("maps safety_identifier (OpenAI's successor of user) to metadata.user_id, as the Responses adapter does, and drops prompt_cache_key", () => {
    expect(sent({ safety_identifier: 's-1', prompt_cache_key: 'k' })).toMatchObject({ metadata: { user_id: 's-1' } });
    expect(sent({ safety_identifier: 's-1', prompt_cache_key: 'k' })).not.toHaveProperty('prompt_cache_key');
    // OpenAI's cache retention is a caching hint too: dropped, not a 400 that made routes and auto skip Claude.
    expect(sent({ prompt_cache_retention: '24h' })).not.toHaveProperty('prompt_cache_retention');
    expect(() => sent({ prompt_cache_retention: 'forever' })).toThrow(expect.objectContaining({ param: 'prompt_cache_retention' }));
    expect(sent({ user: 'u-1', safety_identifier: 's-1' }).metadata).toEqual({ user_id: 's-1' });
  });

  it("sends a user id that looks like an email address or a phone number, or is over 256 characters, as a hash of it: Anthropic refuses those (400 'metadata.user_id: user_id appears to contain an email address'), so a valid chat request became a client error on Claude, also as a fallback", () => {
    const idOf = (user: string) => (sent({ user }).metadata as { user_id: string }).user_id;
    for (const opaque of ['u-1', 'team-a/42', '6f1c2e9a-3b1d-4c55-9b7e-0d2a8e7f1c11']) expect(idOf(opaque)).toBe(opaque);
    for (const personal of ['alice@example.com', 'Alice <alice.smith@mail.example.org>', '+1 (555) 010-4477', '555-010-4477', 'x'.repeat(257)]) {
      const id = idOf(personal);
      expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
      // The same user is the same id (Anthropic's abuse detection keys on it), another user another.
      expect(idOf(personal)).toBe(id);
    }
    expect(idOf('alice@example.com')).not.toBe(idOf('bob@example.com'));
    expect((sent({ safety_identifier: 'bob@example.com' }).metadata as { user_id: string }).user_id).toMatch(/^sha256:/);
  });

  it("a conversation that opens with the assistant's turn (a chat UI's greeting, a trimmed history) gets a placeholder user turn first, as LiteLLM sends it: Anthropic refuses it otherwise (400 'messages: first message must use the \"user\" role'), a valid chat request made a client error on Claude", () => {
    const body = sent({
      messages: msgs({ role: 'system', content: 'Be kind.' }, { role: 'assistant', content: 'Hello! How can I help?' }, { role: 'user', content: 'Hi.' }),
    });
    expect(body.system).toBe('Be kind.');
    expect(body.messages).toEqual([
      { role: 'user', content: '.' },
      { role: 'assistant', content: 'Hello! How can I help?' },
      { role: 'user', content: 'Hi.' },
    ]);
    // The client's own prefill alone: still the model's turn to go on from it.
    expect(sent({ messages: msgs({ role: 'assistant', content: 'Once upon' }) }).messages).toEqual([
      { role: 'user', content: '.' },
      { role: 'assistant', content: 'Once upon' },
    ]);
    // A conversation that opens with the user's turn is sent as it is.
    expect(sent({ messages: msgs({ role: 'user', content: 'hi' }, { role: 'assistant', content: 'Hello' }, { role: 'user', content: 'x' }) }).messages).toEqual(
      [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'Hello' },
        { role: 'user', content: 'x' },
      ],
    );
  });

  it('refuses a whitespace-only stop sequence (Anthropic answers 400 to it), so a route passes over the model', () => {
    for (const [stop, param] of [
      ['\n', 'stop'],
      [['END', '\n\n'], 'stop[1]'],
      [[' '], 'stop[0]'],
    ] as const) {
      expect(() => sent({ stop: stop as string | string[] })).toThrow(
        expect.objectContaining({ status: 400, param, message: expect.stringMatching(/whitespace only/) }),
      );
    }
    expect(sent({ stop: ['', 'END'] }).stop_sequences).toEqual(['END']);
  });

  it('ignores fields that change nothing', () => {
    const body = sent({
      stream_options: { include_usage: true },
      n: 1,
      store: false,
      logprobs: false,
      top_logprobs: 0,
      presence_penalty: 0,
      seed: null,
      modalities: ['text'],
      service_tier: 'auto',
    });
    expect(Object.keys(body).sort()).toEqual(['max_tokens', 'messages', 'model']);
  });
});

describe('anthropic buildRequest: messages', () => {
  it('lifts system and developer messages (string or text parts) into system', () => {
    const body = sent({
      messages: msgs(
        { role: 'system', content: 'You are terse.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'hi' },
      ),
    });
    expect(body.system).toBe('You are terse.\n\nAnswer in French.');
    expect(body.messages).toEqual([{ role: 'user', content: 'hi' }]);
  });

  it("drops a message's keys that chat does not define (DeepSeek-style reasoning_content, a framework's own), as LiteLLM does", () => {
    const body = sent({
      messages: [
        { role: 'user', content: 'hi', id: 'm1', metadata: { from: 'ui' } },
        { role: 'assistant', content: 'hello', reasoning_content: 'the user greets', name: 'bot' },
        { role: 'user', content: 'again' },
      ] as unknown as ChatMessage[],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
      { role: 'user', content: 'again' },
    ]);
  });

  it('merges consecutive turns of the same role', () => {
    const body = sent({
      messages: msgs(
        { role: 'user', content: 'one' },
        { role: 'user', content: [{ type: 'text', text: 'two' }] },
        { role: 'assistant', content: 'three' },
        { role: 'assistant', content: 'four' },
      ),
    });
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'one' },
          { type: 'text', text: 'two' },
        ],
      },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'three' },
          { type: 'text', text: 'four' },
        ],
      },
    ]);
  });

  it('translates data: and https images', () => {
    const body = sent({
      messages: msgs({
        role: 'user',
        content: [
          { type: 'text', text: 'compare' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'high' } },
        ],
      }),
    });
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'compare' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
          { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
        ],
      },
    ]);
  });

  it("sends image/jpg as image/jpeg and refuses image types Anthropic does not take (svg); a PDF in an image part (LiteLLM's older form) is a document", () => {
    const image = (url: string) => msgs({ role: 'user', content: [{ type: 'image_url', image_url: { url } }] });
    expect(sent({ messages: image('data:image/jpg;base64,/9j/AAAA') }).messages).toEqual([
      { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/AAAA' } }] },
    ]);
    expect(() => sent({ messages: image('data:image/svg+xml;base64,AAAA') })).toThrow(
      expect.objectContaining({ status: 400, message: expect.stringContaining('not "image/svg+xml"') }),
    );
    expect(sent({ messages: image('data:application/pdf;base64,JVBERi0=') }).messages).toEqual([
      { role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } }] },
    ]);
  });

  it('types a base64 image by its bytes where its label says otherwise (frameworks label every image image/jpeg; Anthropic refuses a label its bytes contradict)', () => {
    const image = (url: string) => msgs({ role: 'user', content: [{ type: 'image_url', image_url: { url } }] });
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).toString('base64');
    const gif = Buffer.from('GIF89a\x01\x00', 'latin1').toString('base64');
    const webp = Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 ', 'latin1').toString('base64');
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16]).toString('base64');
    const typed = (url: string) =>
      (sent({ messages: image(url) }).messages as Array<{ content: Array<{ source: { media_type: string } }> }>)[0]!.content[0]!.source.media_type;
    expect([
      typed(`data:image/jpeg;base64,${png}`),
      typed(`data:image/png;base64,${gif}`),
      typed(`data:image/jpeg;base64,${webp}`),
      typed(`data:image/png;base64,${jpeg}`),
    ]).toEqual(['image/png', 'image/gif', 'image/webp', 'image/jpeg']);
    // A label Anthropic does not take, on bytes it does: the bytes' type. Bytes that tell nothing keep the label.
    expect(typed(`data:application/octet-stream;base64,${png}`)).toBe('image/png');
    expect(typed('data:image/png;base64,AAAAAAAA')).toBe('image/png');
    // The same for a chat file part holding an image.
    const file = msgs({ role: 'user', content: [{ type: 'file', file: { file_data: `data:image/jpeg;base64,${png}`, filename: 'a.png' } }] });
    expect((sent({ messages: file }).messages as Array<{ content: Array<{ source: { media_type: string } }> }>)[0]!.content[0]!.source.media_type).toBe(
      'image/png',
    );
  });

  it("sends a chat file part (OpenAI's form for a PDF) as an Anthropic document, its filename the title; plain text as a text document, an image file as an image", () => {
    const file = (file: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      msgs({
        role: 'user',
        content: [
          { type: 'text', text: 'summarise' },
          { type: 'file', file, ...extra },
        ],
      });
    expect(sent({ messages: file({ file_data: 'data:application/pdf;base64,JVBERi0xLjQ=', filename: 'report.pdf' }) }).messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'summarise' },
          { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0xLjQ=' }, title: 'report.pdf' },
        ],
      },
    ]);
    const text = Buffer.from('Größe: 3 m\n', 'utf8').toString('base64');
    expect(sent({ messages: file({ file_data: `data:text/plain;base64,${text}` }, { cache_control: { type: 'ephemeral' } }) }).messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'summarise' },
          { type: 'document', source: { type: 'text', media_type: 'text/plain', data: 'Größe: 3 m\n' }, cache_control: { type: 'ephemeral' } },
        ],
      },
    ]);
    expect(sent({ messages: file({ file_data: 'data:image/png;base64,iVBORw0KGgo=', filename: 'x.png' }) }).messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'summarise' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
        ],
      },
    ]);
  });

  it('refuses a file part Anthropic cannot read, naming the field: an OpenAI file id, bytes that are no data: URL, a type it does not take', () => {
    const file = (f: unknown) => ({ messages: msgs({ role: 'user', content: [{ type: 'file', file: f }] }) });
    const cases: Array<[unknown, string, RegExp]> = [
      [{ file_id: 'file-abc123' }, 'messages[0].content[0].file.file_id', /Files API.*file_data/],
      [{ file_data: 'JVBERi0xLjQ=' }, 'messages[0].content[0].file.file_data', /base64 data: URL/],
      [{ file_data: 'data:application/zip;base64,UEsDBA==' }, 'messages[0].content[0].file.file_data', /not "application\/zip"/],
      [{ file_data: 'data:text/plain;base64,ICAK' }, 'messages[0].content[0].file.file_data', /empty/],
      ['x', 'messages[0].content[0].file', /file_data/],
    ];
    for (const [f, param, why] of cases) {
      const err = refused(file(f));
      expect([err.status, err.param]).toEqual([400, param]);
      expect(err.message).toMatch(why);
    }
  });

  it("sends a json_schema response_format as Anthropic's structured outputs (output_config.format), not with a continuation's prefill", () => {
    const schema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const rf = { type: 'json_schema', json_schema: { name: 'place', schema, strict: true } };
    expect(sent({ response_format: rf }).output_config).toEqual({ format: { type: 'json_schema', schema } });
    expect(sent({ response_format: { type: 'text' } })).not.toHaveProperty('output_config');
    expect(sent({ response_format: rf }, { prefill: '{"city": "Par' })).not.toHaveProperty('output_config');
    // json_object has no Anthropic form: the refusal says what to send instead.
    const err = refused({ response_format: { type: 'json_object' } });
    expect([err.status, err.param]).toEqual([400, 'response_format']);
    expect(err.message).toMatch(/no JSON mode without a schema.*ask for a json_schema format with its schema/);
  });

  it("sends a schema in the subset Anthropic's structured outputs take: bounds, lengths and patterns go to the description, every object closed", () => {
    // What openai-node's zodResponseFormat makes of z.object({ n: z.number().int(), name: z.string().min(2), tags: z.array(z.string()).min(2) }).
    const schema = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: {
        n: { type: 'integer', minimum: -9007199254740991, maximum: 9007199254740991 },
        name: { type: 'string', minLength: 2, description: 'who' },
        tags: { type: 'array', items: { type: 'string', format: 'email' }, minItems: 2 },
        at: { type: 'string', format: 'date-time' },
        either: { oneOf: [{ type: 'object', properties: { a: { type: 'number', multipleOf: 2 } } }, { type: 'null' }] },
      },
      required: ['n', 'name', 'tags', 'at', 'either'],
      additionalProperties: true,
    };
    const rf = { type: 'json_schema', json_schema: { name: 's', schema } };
    const sentSchema = (sent({ response_format: rf }).output_config as { format: { schema: unknown } }).format.schema;
    expect(sentSchema).toEqual({
      type: 'object',
      properties: {
        n: { type: 'integer', description: '{minimum: -9007199254740991, maximum: 9007199254740991}' },
        name: { type: 'string', description: 'who\n\n{minLength: 2}' },
        tags: { type: 'array', items: { type: 'string', format: 'email' }, description: '{minItems: 2}' },
        at: { type: 'string', format: 'date-time' },
        either: {
          anyOf: [{ type: 'object', properties: { a: { type: 'number', description: '{multipleOf: 2}' } }, additionalProperties: false }, { type: 'null' }],
        },
      },
      required: ['n', 'name', 'tags', 'at', 'either'],
      additionalProperties: false,
    });
    // The client's body is not changed (the cascade validates the answer against it as sent).
    expect(schema.properties.n.minimum).toBe(-9007199254740991);
    // A strict tool's parameters the same way; a tool that is not strict as written.
    const tool = (strict: boolean) => ({ type: 'function', function: { name: 'f', parameters: schema, ...(strict ? { strict } : {}) } });
    expect((sent({ tools: [tool(true)] }).tools as Array<{ input_schema: unknown }>)[0]!.input_schema).toEqual(sentSchema);
    expect((sent({ tools: [tool(false)] }).tools as Array<{ input_schema: unknown }>)[0]!.input_schema).toEqual(schema);
  });

  it('refuses a schema with a map or free-form object (no listed properties, additionalProperties true or a schema), naming where: closed, it could only be answered {}', () => {
    const map = { type: 'object', properties: { tags: { type: 'object', additionalProperties: { type: 'string' } } }, required: ['tags'] };
    const mapFormat = { type: 'json_schema', json_schema: { name: 'm', schema: map } };
    const err = refused({ response_format: mapFormat });
    expect([err.status, err.param]).toEqual([400, 'response_format.json_schema.schema.properties.tags']);
    expect(err.message).toMatch(/lists none: a map or free-form object could only be answered \{\}/);
    const patterned = { type: 'object', properties: { xs: { type: 'object', patternProperties: { '^a': { type: 'string' } } } } };
    const patternedFormat = { type: 'json_schema', json_schema: { name: 'p', schema: patterned } };
    expect(refused({ response_format: patternedFormat }).param).toBe('response_format.json_schema.schema.properties.xs');
    const free = { type: 'object', additionalProperties: true };
    const tools = [{ type: 'function', function: { name: 'f', parameters: free, strict: true } }];
    expect(refused({ tools }).param).toBe('tools[0].function.parameters');
    // Not strict: the schema goes as written (Anthropic does not constrain the input to it).
    expect(sent({ tools: [{ type: 'function', function: { name: 'f', parameters: free } }] }).tools).toEqual([{ name: 'f', input_schema: free }]);
    // Listed properties with additionalProperties true: closed to those (an answer the client's schema accepts).
    const open = { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: { type: 'number' } };
    const rf = { type: 'json_schema', json_schema: { name: 'o', schema: open } };
    expect((sent({ response_format: rf }).output_config as { format: { schema: unknown } }).format.schema).toEqual({
      type: 'object',
      properties: { a: { type: 'string' } },
      additionalProperties: false,
    });
  });

  it("keeps a strict function strict (Anthropic's strict tool use), and sends no strict key otherwise", () => {
    const params = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    const tools = [
      { type: 'function', function: { name: 'a', parameters: params, strict: true } },
      { type: 'function', function: { name: 'b', parameters: params, strict: false } },
      { type: 'function', function: { name: 'c', parameters: params } },
    ];
    expect(sent({ tools }).tools).toEqual([
      { name: 'a', input_schema: params, strict: true },
      { name: 'b', input_schema: params },
      { name: 'c', input_schema: params },
    ]);
  });

  it("keeps an assistant turn that is only a refusal (content null, refusal set: the SDK's own shape) as its text", () => {
    const body = sent({
      messages: msgs(
        { role: 'user', content: 'x' },
        { role: 'assistant', content: null, refusal: "I can't help with that." },
        { role: 'user', content: 'ok, something else then' },
      ),
    });
    expect(body.messages).toEqual([
      { role: 'user', content: 'x' },
      { role: 'assistant', content: "I can't help with that." },
      { role: 'user', content: 'ok, something else then' },
    ]);
    // Text beside it wins; a blank refusal is no turn.
    expect(
      sent({ messages: msgs({ role: 'user', content: 'x' }, { role: 'assistant', content: 'Sure.', refusal: 'no' }, { role: 'user', content: 'y' }) }).messages,
    ).toEqual([
      { role: 'user', content: 'x' },
      { role: 'assistant', content: 'Sure.' },
      { role: 'user', content: 'y' },
    ]);
  });

  it('translates tools and every tool_choice form', () => {
    const tools = [
      { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
    ];
    expect(sent({ tools }).tools).toEqual([
      { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
    ]);
    expect(sent({ tools, tool_choice: 'auto' }).tool_choice).toEqual({ type: 'auto' });
    expect(sent({ tools, tool_choice: 'required' }).tool_choice).toEqual({ type: 'any' });
    expect(sent({ tools, tool_choice: 'none' }).tool_choice).toEqual({ type: 'none' });
    expect(sent({ tools, tool_choice: { type: 'function', function: { name: 'get_weather' } } }).tool_choice).toEqual({ type: 'tool', name: 'get_weather' });
    expect(sent({ tools, parallel_tool_calls: false }).tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(sent({ tools, tool_choice: 'required', parallel_tool_calls: false }).tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });
  });

  it('a history of tool calls and results with no tools offered (or tools: []) is sent with those tools as placeholders and tool_choice none: Anthropic refuses tool blocks without tools', () => {
    const history = msgs(
      { role: 'user', content: 'Weather and time in Berlin?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
          { id: 'c2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
          { id: 'c3', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Bonn"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
      { role: 'tool', tool_call_id: 'c2', content: '10:00' },
      { role: 'tool', tool_call_id: 'c3', content: 'rain' },
    );
    const placeholder = (name: string) => ({ name, description: PLACEHOLDER_DESCRIPTION, input_schema: { type: 'object' } });
    for (const body of [
      { messages: history },
      { messages: history, tools: [] },
      { messages: history, tool_choice: 'none' },
      { messages: history, tool_choice: 'auto' },
    ]) {
      const out = sent(body);
      expect(out.tools).toEqual([placeholder('get_weather'), placeholder('get_time')]);
      expect(out.tool_choice).toEqual({ type: 'none' });
    }
    // Tools offered: they are sent as given; no history: none at all.
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } }];
    expect((sent({ messages: history, tools }).tools as Array<{ name: string }>).map((t) => t.name)).toEqual(['get_weather']);
    expect(sent({ messages: history, tools })).not.toHaveProperty('tool_choice');
    expect(sent({})).not.toHaveProperty('tools');
    expect(sent({})).not.toHaveProperty('tool_choice');
  });

  it("sends OpenAI's allowed_tools choice as the allowed tools alone, `required` as any (Anthropic has no such choice)", () => {
    const fn = (name: string) => ({ type: 'function', function: { name, parameters: { type: 'object', properties: {} } } });
    const tools = [fn('a'), fn('b'), fn('c')];
    const allowed = (mode: string, ...names: string[]) => ({
      type: 'allowed_tools',
      allowed_tools: { mode, tools: names.map((name) => ({ type: 'function', function: { name } })) },
    });
    const required = sent({ tools, tool_choice: allowed('required', 'c', 'a') });
    expect((required.tools as Array<{ name: string }>).map((t) => t.name)).toEqual(['a', 'c']);
    expect(required.tool_choice).toEqual({ type: 'any' });
    const auto = sent({ tools, tool_choice: allowed('auto', 'b'), parallel_tool_calls: false });
    expect((auto.tools as Array<{ name: string }>).map((t) => t.name)).toEqual(['b']);
    expect(auto.tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    const custom = refused({
      tools,
      tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [{ type: 'custom', custom: { name: 'x' } }] } },
    });
    expect([custom.status, custom.param]).toEqual([400, 'tool_choice.allowed_tools.tools[0]']);
  });

  it('turns assistant tool_calls into tool_use and tool messages into one user turn of tool_result', () => {
    const body = sent({
      messages: msgs(
        { role: 'user', content: 'weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'toolu_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_1', content: '18C' },
        { role: 'tool', tool_call_id: 'toolu_2', content: [{ type: 'text', text: '24C' }] },
        { role: 'user', content: 'thanks' },
      ),
    });
    expect(body.messages).toEqual([
      { role: 'user', content: 'weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_2', name: 'get_weather', input: { city: 'Rome' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: '18C' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: '24C' }] },
          { type: 'text', text: 'thanks' },
        ],
      },
    ]);
  });

  it("drops text of whitespace only, as empty text is (Anthropic: 'text content blocks must contain non-whitespace text')", () => {
    const body = sent({
      messages: msgs(
        { role: 'system', content: '  ' },
        { role: 'user', content: 'q' },
        { role: 'assistant', content: ' \n' },
        {
          role: 'user',
          content: [
            { type: 'text', text: '\t' },
            { type: 'text', text: 'more' },
          ],
        },
      ),
    });
    expect(body.system).toBeUndefined();
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'q' },
          { type: 'text', text: 'more' },
        ],
      },
    ]);
  });

  it("a conversation ending with the client's own assistant turn sends it without trailing whitespace (Anthropic refuses it there)", () => {
    const ends = (content: string) => sent({ messages: msgs({ role: 'user', content: 'x' }, { role: 'assistant', content }) }).messages;
    expect(ends('Sure ')).toEqual([
      { role: 'user', content: 'x' },
      { role: 'assistant', content: 'Sure' },
    ]);
    expect(ends('Sure')).toEqual([
      { role: 'user', content: 'x' },
      { role: 'assistant', content: 'Sure' },
    ]);
    // Whitespace inside an earlier assistant turn is the conversation's, and stays.
    const mid = sent({ messages: msgs({ role: 'user', content: 'x' }, { role: 'assistant', content: 'a ' }, { role: 'user', content: 'y' }) }).messages;
    expect(mid).toEqual([
      { role: 'user', content: 'x' },
      { role: 'assistant', content: 'a ' },
      { role: 'user', content: 'y' },
    ]);
  });

  it('puts tool results first in a merged user turn, and reads empty arguments as {}', () => {
    const body = sent({
      messages: msgs(
        { role: 'user', content: 'time?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'now', arguments: '' } }] },
        { role: 'user', content: 'hurry' },
        { role: 'tool', tool_call_id: 't1', content: '12:00' },
      ),
    });
    expect(body.messages).toEqual([
      { role: 'user', content: 'time?' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'now', input: {} }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 't1', content: '12:00' },
          { type: 'text', text: 'hurry' },
        ],
      },
    ]);
  });

  it('refuses tool_call arguments that are not JSON', () => {
    const err = refused({
      messages: msgs(
        { role: 'user', content: 'x' },
        { role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{bad' } }] },
      ),
    });
    expect(err.status).toBe(400);
    expect(err.param).toBe('messages[1].tool_calls[0].function.arguments');
  });
});

describe('anthropic buildRequest: cache_control (prompt caching, as LiteLLM and OpenRouter take it on chat)', () => {
  const eph = { type: 'ephemeral' };

  it('keeps a marker on a system part, a user text part and an image part, on the block each becomes; the system becomes blocks', () => {
    const body = sent({
      messages: msgs(
        { role: 'system', content: [{ type: 'text', text: 'long rules', cache_control: eph }] },
        { role: 'system', content: 'more' },
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' }, cache_control: { type: 'ephemeral', ttl: '5m' } },
            { type: 'text', text: 'the doc', cache_control: eph },
            { type: 'text', text: 'question' },
          ],
        },
      ),
    });
    expect(body.system).toEqual([
      { type: 'text', text: 'long rules', cache_control: eph },
      { type: 'text', text: 'more' },
    ]);
    expect(body.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' }, cache_control: { type: 'ephemeral', ttl: '5m' } },
          { type: 'text', text: 'the doc', cache_control: eph },
          { type: 'text', text: 'question' },
        ],
      },
    ]);
  });

  it("a message's own marker (LiteLLM's and OpenCode's form) marks its last block; a string content becomes a block to carry it", () => {
    const body = sent({
      messages: msgs(
        { role: 'system', content: 'rules', cache_control: eph } as ChatMessage,
        { role: 'user', content: 'hello', cache_control: eph } as ChatMessage,
        { role: 'assistant', content: 'hi' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
          cache_control: eph,
        } as ChatMessage,
      ),
    });
    expect(body.system).toEqual([{ type: 'text', text: 'rules', cache_control: eph }]);
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'hello', cache_control: eph }] },
      { role: 'assistant', content: 'hi' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'a' },
          { type: 'text', text: 'b', cache_control: eph },
        ],
      },
    ]);
  });

  it("a tool's marker goes on the tool; a tool message's (its own or a part's) on the tool_result, never inside its content", () => {
    const call = { id: 'c1', type: 'function' as const, function: { name: 'f', arguments: '{}' } };
    const body = sent({
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } }, cache_control: eph }],
      messages: msgs(
        { role: 'user', content: 'go' },
        { role: 'assistant', content: null, tool_calls: [call, { ...call, id: 'c2' }] },
        { role: 'tool', tool_call_id: 'c1', content: 'one', cache_control: eph } as ChatMessage,
        { role: 'tool', tool_call_id: 'c2', content: [{ type: 'text', text: 'two', cache_control: eph }] },
      ),
    });
    expect((body.tools as unknown[])[0]).toEqual({ name: 'f', input_schema: { type: 'object' }, cache_control: eph });
    expect((body.messages as Array<{ content: unknown }>)[2]!.content).toEqual([
      { type: 'tool_result', tool_use_id: 'c1', content: 'one', cache_control: eph },
      { type: 'tool_result', tool_use_id: 'c2', content: [{ type: 'text', text: 'two' }], cache_control: eph },
    ]);
  });

  it('without a marker the body is as before (the system a joined string, single text turns strings)', () => {
    const body = sent({
      messages: msgs(
        {
          role: 'system',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
        },
        { role: 'user', content: 'q' },
      ),
    });
    expect(body).toMatchObject({ system: 'a\n\nb', messages: [{ role: 'user', content: 'q' }] });
  });

  it('a marker Anthropic would not take is a 400 naming where it is, not dropped', () => {
    const e = refused({ messages: msgs({ role: 'user', content: [{ type: 'text', text: 'x', cache_control: { type: 'persistent' } }] }) });
    expect([e.status, e.param]).toEqual([400, 'messages[0].content[0].cache_control']);
    expect(e.message).toMatch(/must be \{"type": "ephemeral"\}, optionally with "ttl": "5m"$/);
    const t = refused({ tools: [{ type: 'function', function: { name: 'f' }, cache_control: 'yes' }] });
    expect(t.param).toBe('tools[0].cache_control');
    // A 1-hour cache write costs 2× input, more than the priced (5-minute) rate the reservation covers.
    const long = refused({ messages: msgs({ role: 'user', content: 'x', cache_control: { type: 'ephemeral', ttl: '1h' } } as ChatMessage) });
    expect([long.status, long.param]).toEqual([400, 'messages[0].cache_control.ttl']);
    expect(long.message).toMatch(/a 1-hour cache write costs twice the input price/);
  });
});

describe('anthropic buildRequest: prefill', () => {
  it('appends the delivered text as a final assistant turn, trailing whitespace trimmed', () => {
    const body = sent({}, { prefill: 'The answer is \n' });
    expect(body.messages).toEqual([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'The answer is' },
    ]);
  });

  it('merges the prefill into a final assistant turn', () => {
    const body = sent({ messages: msgs({ role: 'user', content: 'hi' }, { role: 'assistant', content: '{' }) }, { prefill: '"a": 1' });
    expect(body.messages).toEqual([
      { role: 'user', content: 'hi' },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: '{' },
          { type: 'text', text: '"a": 1' },
        ],
      },
    ]);
  });

  it('adds nothing for no prefill or an all-whitespace one', () => {
    expect(sent({}).messages).toEqual([{ role: 'user', content: 'hi' }]);
    expect(sent({}, { prefill: ' \n' }).messages).toEqual([{ role: 'user', content: 'hi' }]);
  });
});

describe('anthropic buildRequest: refusals', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['n > 1', { n: 2 }, 'n'],
    ['logprobs', { logprobs: true }, 'logprobs'],
    ['top_logprobs', { top_logprobs: 3 }, 'top_logprobs'],
    ['presence_penalty', { presence_penalty: 0.5 }, 'presence_penalty'],
    ['frequency_penalty', { frequency_penalty: -1 }, 'frequency_penalty'],
    ['logit_bias', { logit_bias: { '50256': -100 } }, 'logit_bias'],
    ['seed', { seed: 42 }, 'seed'],
    ['json_object', { response_format: { type: 'json_object' } }, 'response_format'],
    ['json_schema without its schema object', { response_format: { type: 'json_schema', json_schema: { name: 'x' } } }, 'response_format'],
    ['audio', { audio: { voice: 'alloy', format: 'wav' } }, 'audio'],
    ['modalities', { modalities: ['text', 'audio'] }, 'modalities'],
    ['unknown field', { reasoning_effort: 'high' }, 'reasoning_effort'],
    ['temperature above 1', { temperature: 1.5 }, 'temperature'],
    ['unknown role', { messages: [{ role: 'function', name: 'f', content: 'x' }] }, 'messages[0].role'],
    ['unknown part', { messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }] }, 'messages[0].content[0].type'],
    [
      'image in a system message',
      { messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] },
      'messages[0].content[0].type',
    ],
    ['ftp image', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }] }] }, 'messages[0].content[0]'],
    ['non-function tool', { tools: [{ type: 'custom', custom: { name: 'x' } }] }, 'tools[0]'],
    ['forced tool without tools', { tool_choice: 'required' }, 'tool_choice'],
    ['only a system message', { messages: [{ role: 'system', content: 'You are terse.' }] }, 'messages'],
    ['only an empty user message', { messages: [{ role: 'user', content: '' }] }, 'messages'],
    ['only a user message with no parts', { messages: [{ role: 'user', content: [] }] }, 'messages'],
    // Dropped, it left the assistant's turn last: Claude continued it as a prefill instead of answering.
    [
      'a last user message of whitespace after an assistant turn',
      {
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'The answer is' },
          { role: 'user', content: ' ' },
        ],
      },
      'messages[2].content',
    ],
    [
      'a last user message of empty parts after an assistant turn',
      {
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'The answer is' },
          { role: 'user', content: [{ type: 'text', text: '' }] },
        ],
      },
      'messages[2].content',
    ],
  ];
  it("says where Anthropic's own fields go, and what OpenAI's reasoning controls are (both read 'the field is not supported by this adapter')", () => {
    expect(refused({ thinking: { type: 'enabled', budget_tokens: 2000 } }).message).toMatch(
      /^thinking cannot be translated .*send the request to \/v1\/messages/,
    );
    expect(refused({ top_k: 5 }).message).toMatch(/^top_k cannot be translated .*\/v1\/messages/);
    expect(refused({ reasoning_effort: 'high' }).message).toMatch(/OpenAI's reasoning effort has no translation to Claude/);
    expect(refused({ some_new_field: 1 }).message).toMatch(/not one switchyard translates for Anthropic: leave it out, or send it to an OpenAI-kind model/);
  });

  it.each(cases)('refuses %s with a 400 naming the field', (_name, body, param) => {
    const err = refused(body);
    expect(err.status).toBe(400);
    expect(err.code).toBe('invalid_request');
    expect(err.param).toBe(param);
    expect(err.message).toMatch(/cannot be translated for Anthropic models/);
  });
});
