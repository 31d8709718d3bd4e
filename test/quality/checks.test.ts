/**
 * The cascade's answer checks on unit fixtures: each check fails on the answer it is for and
 * passes on a good one; the schema cache compiles once, stays bounded and refuses hostile schemas.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CASCADE_CHECKS, type CascadeCheck } from '../../src/config/schema.js';
import { answerFromCompletion, answerFromMessage, MessagesStreamAnswer, StreamAnswer, type Answer } from '../../src/quality/answer.js';
import { checkAnswer, isRefusalText, type CheckRequest } from '../../src/quality/checks.js';
import { riskyPattern, SchemaCache } from '../../src/quality/schema-cache.js';

const ALL: CascadeCheck[] = [...DEFAULT_CASCADE_CHECKS, 'confidence'];
const settings = (checks: CascadeCheck[] = ALL, schemas = new SchemaCache(8)) => ({ enabled: new Set(checks), minLogprob: -1, schemas });
const answer = (over: Partial<Answer> = {}): Answer => ({
  content: 'Paris is the capital of France.',
  refusal: null,
  toolCalls: [],
  finishReason: 'stop',
  logprobs: null,
  ...over,
});
const plain: CheckRequest = { responseFormat: null, tools: null, clientMaxTokens: null };
const SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string' }, population: { type: 'integer' } },
  required: ['city', 'population'],
  additionalProperties: false,
};
const jsonSchemaReq: CheckRequest = {
  responseFormat: { type: 'json_schema', json_schema: { name: 'city', schema: SCHEMA } },
  tools: null,
  clientMaxTokens: null,
};
const TOOLS = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } } }];
const toolReq: CheckRequest = { responseFormat: null, tools: TOOLS, clientMaxTokens: null };
const failed = (a: Answer, req = plain, checks?: CascadeCheck[], tokens: number | null = 10) => checkAnswer(a, req, settings(checks), tokens).failed;

describe('deterministic checks', () => {
  it('a good plain answer passes every check', () => {
    expect(failed(answer())).toEqual([]);
  });
  it('empty: no content and no tool call', () => {
    expect(failed(answer({ content: '  \n' }))).toEqual(['empty']);
    expect(failed(answer({ content: '', toolCalls: [{ name: 'lookup', arguments: '{"q":"x"}' }] }), toolReq)).toEqual([]);
  });
  it('refusal: the refusal field, or an answer that is only a refusal', () => {
    expect(failed(answer({ content: '', refusal: 'I cannot help with that.' }))).toEqual(['refusal']);
    expect(failed(answer({ content: "I'm sorry, but I can't help with that." }))).toEqual(['refusal']);
    expect(isRefusalText('I cannot assist with this request.')).toBe(true);
    expect(isRefusalText('Sorry for the delay! The capital of France is Paris.')).toBe(false);
    expect(isRefusalText(`I can't help noticing ${'that the answer is long. '.repeat(30)}`)).toBe(false);
    // Still refusals: nothing after the refusal goes on to help.
    expect(isRefusalText("I'm sorry, but I cannot assist with that request. If you have other questions, feel free to ask.")).toBe(true);
    expect(isRefusalText("I won't do that.")).toBe(true);
    expect(isRefusalText("Sorry, I can't do anything about that.")).toBe(true);
    // Typographic apostrophes, as models often write them, are the same refusal.
    for (const t of [
      'I’m sorry, but I can’t help with that.',
      'I can’t assist with that request.',
      'I’m unable to help with that.',
      'Sorry, I won’t help with that.',
    ])
      expect(isRefusalText(t), t).toBe(true);
    // The phrasings the big models' own refusals use (OpenAI's "I'm really sorry, but…").
    for (const t of [
      "I'm really sorry, but I can't assist with that.",
      "I'm afraid I can't help with that.",
      "I'm not able to help with that.",
      "I'm sorry — I can't help with that.",
    ])
      expect(isRefusalText(t), t).toBe(true);
    expect(isRefusalText("I'm afraid I can't answer that exactly, but it is about 42.")).toBe(false);
    // "As an AI…" opens a refusal as "I'm sorry" does (it passed the check).
    for (const t of [
      'As an AI language model, I cannot provide that information.',
      "As an AI, I can't help with that.",
      "I'm sorry, but as an AI assistant I am unable to help with that.",
      'As a language model, I cannot provide that.',
      'As an AI developed by OpenAI, I cannot help with that request.',
      'As an artificial intelligence, I cannot assist with that.',
      'As an AI language model, I am unable to browse the internet.',
    ])
      expect(isRefusalText(t), t).toBe(true);
    expect(isRefusalText('As an AI language model, I cannot give medical advice, but the usual causes are stress and sleep.')).toBe(false);
    // "won't be able to", "not going to" and "must decline": refusals as common as "can't" (they were delivered from the cheap step).
    for (const t of [
      "I won't be able to help with this.",
      "I'm sorry, but I will not be able to assist with that request.",
      "I'm not going to help with that.",
      'I am not going to provide that.',
      'I must decline this request.',
      "I'm sorry, but I must respectfully decline.",
    ])
      expect(isRefusalText(t), t).toBe(true);
    // A refusal that names what it will not do (share, write, generate, give…), "can not", and "that's not something I can help with".
    for (const t of [
      "Sorry, but I can't share that.",
      "I'm sorry, I cannot generate that.",
      "I can't write that.",
      "I'm sorry, but I can't discuss that.",
      "Sorry, I can't give you that information.",
      'I can not help with that.',
      "That's not something I can help with.",
      "Sorry, that's not something I'm able to help with.",
    ])
      expect(isRefusalText(t), t).toBe(true);
    for (const t of [
      "I can't share the file directly, but you can download it from the releases page.",
      "I can't write to /etc here: run it with sudo.",
      "That's not something I can help with alone, but the docs cover it: see the setup guide.",
      "That's something I can help with. The answer is 42.",
    ])
      expect(isRefusalText(t), t).toBe(false);
    // "(My) apologies, but…", and a refusal in markdown emphasis or quotes, as chat models often format it.
    for (const t of [
      "My apologies, but I can't help with that.",
      "Apologies, but I can't assist with that.",
      "**I'm sorry, but I can't help with that.**",
      '"I\'m sorry, but I can\'t help with that."',
      '> I cannot assist with that request.',
    ])
      expect(isRefusalText(t), t).toBe(true);
    expect(isRefusalText("**Apologies**, but I can't answer in one line: see the table below.")).toBe(false);
    for (const t of [
      "I won't be able to check it live, but the usual fix is to restart the service.",
      "I'm not going to lie: this one is tricky. The answer is 42.",
      'I must decline to guess the exact figure, but it is about 40.',
    ])
      expect(isRefusalText(t), t).toBe(false);
    // The same in German, French, Spanish and Chinese; a hedge there goes on to answer too.
    for (const t of [
      'Es tut mir leid, aber dabei kann ich nicht helfen.',
      'Leider kann ich dir dabei nicht helfen.',
      'Ich kann Ihnen hierbei leider nicht weiterhelfen.',
      'Je suis désolé, mais je ne peux pas vous aider avec ça.',
      'Désolé, je ne peux pas répondre à cette question.',
      'Lo siento, pero no puedo ayudar con eso.',
      'No puedo ayudarte con eso.',
      '抱歉，我无法回答这个问题。',
      '对不起，我不能提供这方面的帮助。',
    ])
      expect(isRefusalText(t), t).toBe(true);
    // Common phrasings there that named another verb or object (share, comply, fulfil this request) or "tut mir leid" alone.
    for (const t of [
      'Lo siento, no puedo compartir esa información.',
      'Lo siento, pero no puedo cumplir con esa solicitud.',
      'Désolé, je ne peux pas partager cette information.',
      'Es tut mir leid, aber ich kann diese Anfrage nicht erfüllen.',
      'Tut mir leid, dabei kann ich nicht helfen.',
      '对不起，这个我帮不了你。',
    ])
      expect(isRefusalText(t), t).toBe(true);
    for (const t of [
      'No puedo compartir el archivo, pero puedes descargarlo aquí: https://example.com',
      'Je ne peux pas partager mon écran, mais voici une capture : image.png',
      'Ich kann diese Datei nicht öffnen, aber hier ist eine Kopie.',
      '这个我帮不了你，但你可以问管理员。',
    ])
      expect(isRefusalText(t), t).toBe(false);
    for (const t of [
      'Ich kann keine Diagnose stellen, aber häufige Ursachen sind Stress und Schlafmangel.',
      'Ich kann dir dabei nicht helfen, aber hier ist ein Link zur Dokumentation.',
      'Je ne peux pas vous aider directement, mais voici la procédure : ouvrez le menu.',
      'No puedo ayudarte con eso, pero puedes consultar la documentación.',
      '我无法提供医疗诊断，但常见原因包括脱水和压力。',
      'No puedo ayudar con eso directamente; aquí tienes la guía oficial.',
      'Ich kann das morgen machen.',
      'Das Wetter ist heute schön.',
      '我可以帮助你。',
    ])
      expect(isRefusalText(t), t).toBe(false);
    expect(isRefusalText('I can’t give a diagnosis, but here’s what usually causes it: dehydration.')).toBe(false);
    // A hedge that goes on to answer is an answer (escalating it would pay the strong tier for nothing).
    for (const t of [
      "I can't provide a definitive diagnosis, but common causes of headaches include dehydration, stress and lack of sleep.",
      'I cannot answer that with certainty. However, the most likely answer is 42.',
      "We can't support IE11 in this build; use the polyfill: import 'core-js';",
      "I can't help noticing the off-by-one error in line 3.",
      "I can't do it in one query, but two will work: SELECT id FROM a; SELECT id FROM b;",
    ])
      expect(isRefusalText(t), t).toBe(false);
  });
  it("refusal: an answer the provider's content filter stopped (finish_reason content_filter), with or without text", () => {
    expect(failed(answer({ content: 'The first step is to', finishReason: 'content_filter' }))).toEqual(['refusal']);
    expect(checkAnswer(answer({ content: 'The first step is to', finishReason: 'content_filter' }), plain, settings(), 5).details[0]).toMatch(/content filter/);
    expect(failed(answer({ content: '', finishReason: 'content_filter' }))).toEqual(['empty', 'refusal']);
    expect(failed(answer({ content: 'The first step is to', finishReason: 'content_filter' }), plain, ['empty'])).toEqual([]);
  });
  it('truncated: finish_reason length not caused by the client max_tokens', () => {
    expect(failed(answer({ finishReason: 'length' }), plain, undefined, 50)).toEqual(['truncated']);
    expect(failed(answer({ finishReason: 'length' }), { ...plain, clientMaxTokens: 50 }, undefined, 50)).toEqual([]);
    expect(failed(answer({ finishReason: 'length' }), { ...plain, clientMaxTokens: 50 }, undefined, 20)).toEqual(['truncated']);
    // Usage unknown: the client's cap is the likely cause, no escalation.
    expect(failed(answer({ finishReason: 'length' }), { ...plain, clientMaxTokens: 50 }, undefined, null)).toEqual([]);
  });
  it('invalid_json: json_object and the content does not parse', () => {
    const req = { ...plain, responseFormat: { type: 'json_object' } };
    expect(failed(answer({ content: '{"city": "Paris"' }), req)).toEqual(['invalid_json']);
    expect(failed(answer({ content: '{"city": "Paris"}' }), req)).toEqual([]);
    expect(failed(answer({ content: 'not json' }), plain)).toEqual([]);
    // Valid JSON that is not an object is not what JSON mode promises.
    for (const content of ['"Paris"', '42', 'null', '[{"city": "Paris"}]', 'true']) expect(failed(answer({ content }), req), content).toEqual(['invalid_json']);
  });
  it("invalid_json, schema, tool_args: JSON or arguments cut by the client's own max_tokens do not escalate (any model is cut there)", () => {
    const cut = { content: '{"city": "Par', finishReason: 'length' as const };
    const json = { ...plain, responseFormat: { type: 'json_object' }, clientMaxTokens: 3 };
    expect(failed(answer(cut), json, undefined, 3)).toEqual([]);
    expect(failed(answer(cut), { ...jsonSchemaReq, clientMaxTokens: 3 }, undefined, 3)).toEqual([]);
    const call = answer({ content: '', toolCalls: [{ name: 'lookup', arguments: '{"q": "wea' }], finishReason: 'length' });
    expect(failed(call, { ...toolReq, clientMaxTokens: 5 }, undefined, 5)).toEqual([]);
    // Cut by the model's own cap (the client set none, or a larger one): a stronger step may fit.
    expect(failed(answer(cut), { ...json, clientMaxTokens: null }, undefined, 3)).toEqual(['truncated', 'invalid_json']);
    expect(failed(answer(cut), { ...json, clientMaxTokens: 100 }, undefined, 3)).toEqual(['truncated', 'invalid_json']);
    expect(failed(call, toolReq, undefined, 5)).toEqual(['truncated', 'tool_args']);
  });
  it('schema: json_schema and the content does not validate', () => {
    expect(failed(answer({ content: '{"city":"Paris","population":2100000}' }), jsonSchemaReq)).toEqual([]);
    expect(failed(answer({ content: '{"city":"Paris"}' }), jsonSchemaReq)).toEqual(['schema']);
    expect(failed(answer({ content: '{"city":' }), jsonSchemaReq)).toEqual(['invalid_json']);
    expect(failed(answer({ content: '{"city":"Paris"}' }), jsonSchemaReq, ['empty'])).toEqual([]);
  });
  it('tool_args: unparsable, invalid against parameters, or a tool not offered', () => {
    const call = (name: string, args: string) => answer({ content: '', toolCalls: [{ name, arguments: args }], finishReason: 'tool_calls' });
    expect(failed(call('lookup', '{"q":"weather"}'), toolReq)).toEqual([]);
    expect(failed(call('lookup', '{"q": '), toolReq)).toEqual(['tool_args']);
    expect(failed(call('lookup', '{"q": 5}'), toolReq)).toEqual(['tool_args']);
    expect(failed(call('delete_all', '{}'), toolReq)).toEqual(['tool_args']);
    expect(checkAnswer(call('delete_all', '{}'), toolReq, settings(), 5).details[0]).toMatch(/not offered/);
    // parallel_tool_calls false allows one call: two fail, one passes.
    const two = answer({
      content: '',
      toolCalls: [
        { name: 'lookup', arguments: '{"q":"a"}' },
        { name: 'lookup', arguments: '{"q":"b"}' },
      ],
      finishReason: 'tool_calls',
    });
    expect(failed(two, { ...toolReq, parallelToolCalls: false })).toEqual(['tool_args']);
    expect(failed(two, toolReq)).toEqual([]);
    expect(failed(call('lookup', '{"q":"a"}'), { ...toolReq, parallelToolCalls: false })).toEqual([]);
    // tool_choice none asks for text: a call anyway fails, a text answer passes.
    expect(failed(call('lookup', '{"q":"weather"}'), { ...toolReq, toolChoice: 'none' })).toEqual(['tool_args']);
    expect(failed(answer(), { ...toolReq, toolChoice: 'none' })).toEqual([]);
    // Arguments are a JSON object, also for a tool without parameters or with a schema that leaves out type: object.
    const loose: CheckRequest = {
      ...plain,
      tools: [
        { type: 'function', function: { name: 'ping' } },
        { type: 'function', function: { name: 'find', parameters: { properties: { q: { type: 'string' } } } } },
      ],
    };
    for (const [name, args] of [
      ['ping', '42'],
      ['ping', '[]'],
      ['find', '"x"'],
      ['find', 'null'],
    ] as const)
      expect(failed(call(name, args), loose), `${name} ${args}`).toEqual(['tool_args']);
    expect(failed(call('ping', ''), loose)).toEqual([]);
    expect(failed(call('find', '{"q":"x"}'), loose)).toEqual([]);
  });
  it('tool_args: a call the client required (tool_choice required or a named function) that the answer does not make', () => {
    const call = (name: string) => answer({ content: '', toolCalls: [{ name, arguments: '{"q":"x"}' }], finishReason: 'tool_calls' });
    const text = answer({ content: 'Here is some text instead.', finishReason: 'tool_calls' });
    const required: CheckRequest = { ...toolReq, toolChoice: 'required' };
    const named: CheckRequest = { ...toolReq, toolChoice: { type: 'function', function: { name: 'lookup' } } };
    expect(failed(text, required)).toEqual(['tool_args']);
    expect(failed(text, named)).toEqual(['tool_args']);
    expect(checkAnswer(text, named, settings(), 5).details[0]).toMatch(/names lookup and the answer calls no tool/);
    expect(failed(call('lookup'), required)).toEqual([]);
    expect(failed(call('lookup'), named)).toEqual([]);
    // auto or none: a text answer is an answer.
    expect(failed(text, { ...toolReq, toolChoice: 'auto' })).toEqual([]);
    expect(failed(text, toolReq)).toEqual([]);
    expect(
      failed(
        text,
        required,
        DEFAULT_CASCADE_CHECKS.filter((c) => c !== 'tool_args'),
      ),
    ).toEqual([]);
  });
  it('tool_args: a custom tool takes free-form input (not parsed as JSON); allowed_tools bounds the calls and its required mode asks for one', () => {
    const CUSTOM = [...TOOLS, { type: 'custom', custom: { name: 'shell', description: 'run a command' } }];
    const req: CheckRequest = { ...toolReq, tools: CUSTOM };
    const call = (name: string, args: string, custom = false) =>
      answer({ content: '', toolCalls: [{ name, arguments: args, custom }], finishReason: 'tool_calls' });
    expect(failed(call('shell', 'ls -la /tmp', true), req)).toEqual([]);
    expect(failed(call('lookup', '{"q":"x"}'), req)).toEqual([]);
    // The kinds must match: a function call of the custom tool (and the other way) is not what was offered.
    expect(failed(call('shell', '{}'), req)).toEqual(['tool_args']);
    expect(checkAnswer(call('lookup', 'x', true), req, settings(), 5).details[0]).toMatch(/offered as a function tool and called as a custom one/);
    // tool_choice naming the custom tool.
    const text = answer({ content: 'text instead', finishReason: 'stop' });
    const namedCustom: CheckRequest = { ...req, toolChoice: { type: 'custom', custom: { name: 'shell' } } };
    expect(failed(text, namedCustom)).toEqual(['tool_args']);
    expect(failed(call('lookup', '{"q":"x"}'), namedCustom)).toEqual(['tool_args']);
    expect(failed(call('shell', 'pwd', true), namedCustom)).toEqual([]);
    // allowed_tools: required mode needs a call, and a call must be in its list.
    const allowed = (mode: string): CheckRequest => ({
      ...req,
      toolChoice: { type: 'allowed_tools', allowed_tools: { mode, tools: [{ type: 'custom', custom: { name: 'shell' } }] } },
    });
    expect(failed(text, allowed('required'))).toEqual(['tool_args']);
    expect(failed(text, allowed('auto'))).toEqual([]);
    expect(failed(call('shell', 'pwd', true), allowed('required'))).toEqual([]);
    expect(checkAnswer(call('lookup', '{"q":"x"}'), allowed('auto'), settings(), 5).details[0]).toMatch(/not offered in tool_choice.allowed_tools/);
    // allowed_tools names the tools (no parameters): a call's arguments are still checked against the tool's own parameters in tools.
    const allowedLookup: CheckRequest = {
      ...req,
      toolChoice: { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'lookup' } }] } },
    };
    expect(failed(call('lookup', '{"q":"x"}'), allowedLookup)).toEqual([]);
    expect(failed(call('lookup', '{}'), allowedLookup)).toEqual(['tool_args']);
    expect(checkAnswer(call('lookup', '{"q":7}'), allowedLookup, settings(), 5).details[0]).toMatch(/arguments of lookup/);
  });
  it('confidence: mean logprob under minLogprob (opt-in; no logprobs passes)', () => {
    expect(failed(answer({ logprobs: [-0.1, -0.2] }))).toEqual([]);
    expect(failed(answer({ logprobs: [-2, -3] }))).toEqual(['confidence']);
    expect(failed(answer({ logprobs: [-2, -3] }), plain, DEFAULT_CASCADE_CHECKS)).toEqual([]);
    expect(failed(answer({ logprobs: null }))).toEqual([]);
  });
  it('checks that are off never fail', () => {
    expect(failed(answer({ content: '' }), plain, ['refusal'])).toEqual([]);
  });
});

describe('answers from both shapes', () => {
  it('reads a relayed Anthropic Messages answer (text and tool_use blocks, stop reason) from its body and from its events alike', () => {
    const message = {
      id: 'msg_1',
      type: 'message',
      content: [
        { type: 'thinking', thinking: 'let me see', signature: 'sig' },
        { type: 'text', text: 'Looking it up.' },
        { type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { q: 'paris' } },
      ],
      stop_reason: 'tool_use',
    };
    const s = new MessagesStreamAnswer();
    s.add('message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null } });
    s.add('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '' } });
    s.add('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'let me see' } });
    s.add('content_block_start', { index: 1, content_block: { type: 'text', text: '' } });
    s.add('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'Looking ' } });
    s.add('content_block_delta', { index: 1, delta: { type: 'text_delta', text: 'it up.' } });
    s.add('content_block_start', { index: 2, content_block: { type: 'tool_use', id: 'toolu_1', name: 'lookup', input: {} } });
    s.add('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '{"q": ' } });
    s.add('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json: '"paris"}' } });
    s.add('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } });
    const a = answerFromMessage(message);
    expect(a).toEqual({
      content: 'Looking it up.',
      refusal: null,
      toolCalls: [{ name: 'lookup', arguments: '{"q":"paris"}', custom: false }],
      finishReason: 'tool_calls',
      logprobs: null,
    });
    expect({ ...s.answer(), toolCalls: s.answer().toolCalls.map((t) => ({ ...t, arguments: JSON.stringify(JSON.parse(t.arguments)) })) }).toEqual(a);
    // Cut at the cap, stopped by Anthropic's classifiers: what the truncated and refusal checks read.
    expect(answerFromMessage({ content: [{ type: 'text', text: 'Half an ans' }], stop_reason: 'max_tokens' }).finishReason).toBe('length');
    expect(answerFromMessage({ content: [], stop_reason: 'refusal' }).finishReason).toBe('content_filter');
    expect(failed(answerFromMessage({ content: [{ type: 'text', text: 'The answer is' }], stop_reason: 'refusal' }))).toEqual(['refusal']);
    expect(failed(answerFromMessage({ content: [{ type: 'tool_use', name: 'lookup', input: { x: 1 } }], stop_reason: 'tool_use' }), toolReq)).toEqual([
      'tool_args',
    ]);
  });

  it('reads a custom tool call (custom.name, custom.input) from a chat.completion and from stream chunks alike', () => {
    const completion = {
      choices: [
        {
          message: { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'custom', custom: { name: 'shell', input: 'ls -la' } }] },
          finish_reason: 'tool_calls',
        },
      ],
    };
    const s = new StreamAnswer();
    s.add({ choices: [{ delta: { role: 'assistant', tool_calls: [{ index: 0, id: 'c1', type: 'custom', custom: { name: 'shell', input: '' } }] } }] });
    s.add({ choices: [{ delta: { tool_calls: [{ index: 0, custom: { input: 'ls ' } }] } }] });
    s.add({ choices: [{ delta: { tool_calls: [{ index: 0, custom: { input: '-la' } }] }, finish_reason: 'tool_calls' }] });
    expect(answerFromCompletion(completion).toolCalls).toEqual([{ name: 'shell', arguments: 'ls -la', custom: true }]);
    expect(s.answer()).toEqual(answerFromCompletion(completion));
  });

  it('reads a chat.completion and the chunks of a stream alike', () => {
    const completion = {
      choices: [
        {
          message: { role: 'assistant', content: null, refusal: 'no', tool_calls: [{ function: { name: 'lookup', arguments: '{"q":"a"}' } }] },
          finish_reason: 'tool_calls',
          logprobs: { content: [{ logprob: -0.5 }] },
        },
      ],
    };
    const s = new StreamAnswer();
    s.add({ choices: [{ delta: { role: 'assistant', refusal: 'n' } }] });
    s.add({ choices: [{ delta: { refusal: 'o', tool_calls: [{ index: 0, function: { name: 'lookup', arguments: '{"q"' } }] } }] });
    s.add({
      choices: [
        { delta: { tool_calls: [{ index: 0, function: { arguments: ':"a"}' } }] }, logprobs: { content: [{ logprob: -0.5 }] }, finish_reason: 'tool_calls' },
      ],
    });
    expect(s.answer()).toEqual(answerFromCompletion(completion));
    expect(s.answer()).toEqual({
      content: '',
      refusal: 'no',
      toolCalls: [{ name: 'lookup', arguments: '{"q":"a"}', custom: false }],
      finishReason: 'tool_calls',
      logprobs: [-0.5],
    });
  });

  it('reads a legacy function_call (the functions API) as a call, from a chat.completion and from stream chunks, and checks it against functions', () => {
    const completion = {
      choices: [{ message: { role: 'assistant', content: null, function_call: { name: 'lookup', arguments: '{"q":"a"}' } }, finish_reason: 'function_call' }],
    };
    const s = new StreamAnswer();
    s.add({ choices: [{ delta: { role: 'assistant', content: null, function_call: { name: 'lookup', arguments: '' } } }] });
    s.add({ choices: [{ delta: { function_call: { arguments: '{"q":' } } }] });
    s.add({ choices: [{ delta: { function_call: { arguments: '"a"}' } }, finish_reason: 'function_call' }] });
    const expected = [{ name: 'lookup', arguments: '{"q":"a"}', custom: false }];
    expect(answerFromCompletion(completion).toolCalls).toEqual(expected);
    expect(s.answer().toolCalls).toEqual(expected);
    const legacy: CheckRequest = { ...plain, functions: [TOOLS[0]!.function] };
    // A call is no empty answer; its arguments are checked against the function's parameters.
    expect(failed(answerFromCompletion(completion), legacy)).toEqual([]);
    expect(failed(s.answer(), legacy)).toEqual([]);
    const bad = answer({ content: '', toolCalls: [{ name: 'lookup', arguments: '{"q": 5}' }], finishReason: 'function_call' });
    expect(failed(bad, legacy)).toEqual(['tool_args']);
    expect(failed(answer(), { ...legacy, functionCall: { name: 'lookup' } })).toEqual(['tool_args']);
    expect(failed(answerFromCompletion(completion), { ...legacy, functionCall: 'none' })).toEqual(['tool_args']);
  });

  it('a stream that repeats the tool name in every chunk of the call (as some OpenAI-compatible servers do) names the tool once', () => {
    const s = new StreamAnswer();
    s.add({ choices: [{ delta: { role: 'assistant', tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'lookup', arguments: '' } }] } }] });
    s.add({ choices: [{ delta: { tool_calls: [{ index: 0, function: { name: 'lookup', arguments: '{"q":' } }] } }] });
    s.add({ choices: [{ delta: { tool_calls: [{ index: 0, function: { name: 'lookup', arguments: '"x"}' } }] }, finish_reason: 'tool_calls' }] });
    expect(s.answer().toolCalls).toEqual([{ name: 'lookup', arguments: '{"q":"x"}', custom: false }]);
    expect(failed(s.answer(), toolReq)).toEqual([]);
  });
});

describe('schema cache', () => {
  it('compiles a schema once and keeps at most its capacity', () => {
    const cache = new SchemaCache(2);
    const schema = (n: number) => ({ type: 'object', properties: { [`f${n}`]: { type: 'number' } }, required: [`f${n}`] });
    expect(cache.validate(schema(1), { f1: 1 })).toEqual({ ok: true });
    expect(cache.validate(structuredClone(schema(1)), { f1: 'x' }).ok).toBe(false);
    expect(cache.size).toBe(1);
    for (let i = 2; i < 50; i++) cache.validate(schema(i), { [`f${i}`]: i });
    expect(cache.size).toBe(2);
  });
  it('validates a recursive schema (root $ref "#", as Structured Outputs allows, and a $defs node that refers to itself)', () => {
    const cache = new SchemaCache(4);
    const tree = {
      type: 'object',
      properties: { name: { type: 'string' }, children: { type: 'array', items: { $ref: '#' } } },
      required: ['name', 'children'],
      additionalProperties: false,
    };
    expect(cache.validate(tree, { name: 'a', children: [{ name: 'b', children: [] }] })).toEqual({ ok: true });
    expect(cache.validate(tree, { name: 'a', children: [{ name: 'b' }] }).ok).toBe(false);
    const list = {
      type: 'object',
      properties: { head: { $ref: '#/$defs/node' } },
      required: ['head'],
      additionalProperties: false,
      $defs: {
        node: {
          type: 'object',
          properties: { v: { type: 'integer' }, next: { anyOf: [{ $ref: '#/$defs/node' }, { type: 'null' }] } },
          required: ['v', 'next'],
          additionalProperties: false,
        },
      },
    };
    expect(cache.validate(list, { head: { v: 1, next: { v: 2, next: null } } })).toEqual({ ok: true });
    expect(cache.validate(list, { head: { v: 1, next: { v: 'x', next: null } } }).ok).toBe(false);
    const req: CheckRequest = { ...plain, responseFormat: { type: 'json_schema', json_schema: { name: 'tree', strict: true, schema: tree } } };
    expect(failed(answer({ content: '{"name":"a","children":[{"name":"b"}]}' }), req)).toEqual(['schema']);
    // A schema with its own $id is compiled as it is.
    expect(cache.validate({ $id: 'https://example.com/tree', ...tree }, { name: 'a', children: [{ name: 'b' }] }).ok).toBe(false);
  });
  it('validates a schema that names its draft ($schema 2020-12, as zod 4 and MCP tools write it; 2019-09; draft-07)', () => {
    const cache = new SchemaCache(8);
    const base = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false };
    for (const $schema of [
      'https://json-schema.org/draft/2020-12/schema',
      'https://json-schema.org/draft/2019-09/schema',
      'http://json-schema.org/draft-07/schema#',
    ]) {
      expect(cache.validate({ $schema, ...base }, { n: 1 }), $schema).toEqual({ ok: true });
      expect(cache.validate({ $schema, ...base }, { n: 'x' }).ok, $schema).toBe(false);
    }
    const tools = [
      {
        type: 'function',
        function: { name: 'lookup', parameters: { $schema: 'https://json-schema.org/draft/2020-12/schema', ...TOOLS[0]!.function.parameters } },
      },
    ];
    const call = answer({ content: '', toolCalls: [{ name: 'lookup', arguments: '{"q": 5}' }], finishReason: 'tool_calls' });
    expect(failed(call, { ...plain, tools })).toEqual(['tool_args']);
  });
  it('an answer a check could not judge passes, and the outcome names the check and why (unchecked)', () => {
    const req: CheckRequest = { ...plain, responseFormat: { type: 'json_schema', json_schema: { name: 'r', schema: { $ref: '#' } } } };
    const out = checkAnswer(answer({ content: '{"a":1}' }), req, settings(), 5);
    expect(out.failed).toEqual([]);
    expect(out.unchecked).toEqual([expect.stringMatching(/^schema: .*\$ref loop/)]);
    expect(checkAnswer(answer({ content: '{"a":1}' }), { ...plain, responseFormat: { type: 'json_object' } }, settings(), 5).unchecked).toEqual([]);
  });

  it('refuses a remote $ref, exponential patterns and quadratic uniqueItems as unusable (the check passes)', () => {
    const cache = new SchemaCache(4);
    expect(cache.validate({ $ref: 'https://example.com/schema.json' }, {}).ok).toBe('unusable');
    const evil = { type: 'string', pattern: '^(a+)+$' };
    expect(cache.validate(evil, `${'a'.repeat(40)}!`).ok).toBe('unusable');
    expect(cache.validate({ type: 'array', uniqueItems: true }, [1, 2]).ok).toBe('unusable');
    expect(cache.validate({ type: 'array', uniqueItems: true, maxItems: 10 }, [1, 1]).ok).toBe(false);
    expect(
      checkAnswer(answer({ content: '"aaaa!"' }), { ...plain, responseFormat: { type: 'json_schema', json_schema: { schema: evil } } }, settings(), 3).failed,
    ).toEqual([]);
  });
  it('flags nested quantifiers and quantified alternations, not ordinary patterns', () => {
    for (const p of ['(a+)+', '(a|a)*', '(\\w+\\s?)*$', '((ab)*c)+', '(x{1,})+']) expect(riskyPattern(p), p).toBe(true);
    for (const p of ['^[a-z]+$', '^\\d{3}-\\d{4}$', '(ab)+', '^(foo|bar)$', '[(+]*']) expect(riskyPattern(p), p).toBe(false);
  });
  it('a group of optional parts repeated a fixed number of times, or many optional parts, is risky (each held the event loop for seconds)', () => {
    for (const p of ['^(.?){24}$', '^(?:(?:.?){9}){3}$', '^(.|.){30}$', '^(?:a{1,2}){20}$', `^${'a?'.repeat(13)}${'a'.repeat(13)}$`])
      expect(riskyPattern(p), p).toBe(true);
    for (const p of [
      '^\\+?[0-9]{1,3}[-. ]?\\(?[0-9]{3}\\)?[-. ]?[0-9]{3}[-. ]?[0-9]{4}$',
      '^(?:ab){3}$',
      '^(?<year>\\d{4})-(?<month>\\d{2})$',
      '^a*?b$',
      '^(?:foo|bar)?$',
      '^[A-Z]{2,5}-\\d{1,6}$',
      `^${'a?'.repeat(12)}$`,
    ])
      expect(riskyPattern(p), p).toBe(false);
    // The first of them, through the cache: refused (the check is skipped), at once.
    const t0 = Date.now();
    expect(new SchemaCache(2).validate({ type: 'string', pattern: '^(?:(?:.?){9}){3}$' }, 'x'.repeat(40)).ok).toBe('unusable');
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
  it('each schema is checked with its own pattern (ajv keys compiled patterns by their text)', () => {
    const cache = new SchemaCache(8);
    const digits = { type: 'string', pattern: '^[0-9]+$' };
    const letters = { type: 'string', pattern: '^[A-Za-z ]+$' };
    expect(cache.validate(digits, '123').ok).toBe(true);
    expect(cache.validate(letters, 'Amber amber xenon').ok).toBe(true);
    expect(cache.validate(letters, '123').ok).toBe(false);
    expect(cache.validate(digits, 'Amber').ok).toBe(false);
    expect(cache.validate({ type: 'string', pattern: '^$' }, 'Amber').ok).toBe(false);
  });
  it('a schema whose reference loops on the same value (`$ref: "#"`, two definitions naming each other) is unusable, not a stack overflow (it was a 500 under the cascade)', () => {
    const cache = new SchemaCache(4);
    expect(cache.validate({ $ref: '#' }, { q: 1 }).ok).toBe('unusable');
    const loop = { $ref: '#/$defs/a', $defs: { a: { $ref: '#/$defs/b' }, b: { $ref: '#/$defs/a' } } };
    expect(cache.validate(loop, {}).ok).toBe('unusable');
    // Cached as unusable: asked again, the same answer.
    expect(cache.validate({ $ref: '#' }, 'x').ok).toBe('unusable');
    // Recursion through a property (what Structured Outputs documents) still validates.
    const tree = { type: 'object', properties: { children: { type: 'array', items: { $ref: '#' } } }, required: ['children'] };
    expect(cache.validate(tree, { children: [{ children: [] }] }).ok).toBe(true);
    expect(cache.validate(tree, { children: [{}] }).ok).toBe(false);
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: { $ref: '#' } } }];
    const call = answer({ content: '', toolCalls: [{ name: 'lookup', arguments: '{"q": 5}' }], finishReason: 'tool_calls' });
    expect(failed(call, { ...plain, tools })).toEqual([]);
  });
  it('a deep schema is refused, not recursed into without bound', () => {
    let s: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 200; i++) s = { type: 'object', properties: { x: s } };
    expect(new SchemaCache(2).validate(s, {}).ok).toBe('unusable');
  });
});
