/**
 * An OpenAI-compatible server that ignores `stream: true` and answers a whole `chat.completion`
 * JSON body (some self-hosted servers and proxies do), or a 200 whose JSON body is an `error`
 * object: the same answer as the SSE events it would have streamed, so the stream path reads it
 * as any stream (the client gets its stream, billed by the body's usage; an error is the upstream's
 * own, with its message). Null when the body is neither.
 */
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function completionAsSse(json: unknown): string | null {
  if (!isObj(json)) return null;
  // An error that reports usage (what the provider billed for it): its usage first, so the failed attempt is billed by it.
  if (isObj(json.error))
    return `${isObj(json.usage) ? `data: ${JSON.stringify({ object: 'chat.completion.chunk', model: json.model, choices: [], usage: json.usage })}\n\n` : ''}data: ${JSON.stringify({ error: json.error })}\n\ndata: [DONE]\n\n`;
  if (!Array.isArray(json.choices)) return null;
  // No choice at all: no answer, but the counts it reports were billed (the stream reader fails it as a bad answer, billed by them).
  if (json.choices.length === 0)
    return `${isObj(json.usage) ? `data: ${JSON.stringify({ object: 'chat.completion.chunk', model: json.model, choices: [], usage: json.usage })}\n\n` : ''}data: [DONE]\n\n`;
  if (!isObj(json.choices[0])) return null;
  const choice = json.choices[0];
  const message = isObj(choice.message) ? choice.message : {};
  const base = {
    id: typeof json.id === 'string' ? json.id : undefined,
    object: 'chat.completion.chunk',
    created: typeof json.created === 'number' ? json.created : undefined,
    model: json.model,
    ...(json.system_fingerprint !== undefined ? { system_fingerprint: json.system_fingerprint } : {}),
  };
  const delta: Record<string, unknown> = { role: 'assistant' };
  if (typeof message.content === 'string') delta.content = message.content;
  if (typeof message.refusal === 'string') delta.refusal = message.refusal;
  if (typeof message.reasoning_content === 'string') delta.reasoning_content = message.reasoning_content;
  if (Array.isArray(message.tool_calls))
    delta.tool_calls = message.tool_calls.map((c: unknown, index) =>
      // A custom tool's call keeps its `custom: {name, input}` (it has no `function`).
      isObj(c) ? { index, id: c.id, type: c.type ?? 'function', ...(isObj(c.custom) ? { custom: c.custom } : { function: c.function }) } : c,
    );
  const events = [
    { ...base, choices: [{ index: 0, delta, logprobs: choice.logprobs ?? null, finish_reason: null }] },
    { ...base, choices: [{ index: 0, delta: {}, finish_reason: choice.finish_reason ?? null }] },
  ];
  if (isObj(json.usage)) events.push({ ...base, choices: [], usage: json.usage } as (typeof events)[number]);
  return `${events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('')}data: [DONE]\n\n`;
}
