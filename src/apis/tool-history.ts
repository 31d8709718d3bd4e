/**
 * A chat conversation that called tools in earlier turns but offers none now (OpenAI's own examples
 * send the turn after a tool result without `tools`): Anthropic refuses such a request ("Requests
 * which include `tool_use` or `tool_result` blocks must define tools"), so a valid OpenAI request
 * became a provider 400 on Claude, named or failed over to. The Anthropic form then carries the
 * tools the history named as placeholders, with `tool_choice: none` (as chat without tools, no
 * call can come back); the reservation counts them (reservation.ts). Pure.
 */

/** Names of the tools the conversation's assistant turns called, each once, in order; `tool` when only results are there. */
export function historyToolNames(messages: readonly unknown[]): string[] {
  const names = new Set<string>();
  let results = false;
  for (const m of messages) {
    if (typeof m !== 'object' || m === null) continue;
    const { role, tool_calls: calls } = m as { role?: unknown; tool_calls?: unknown };
    if (role === 'tool' || role === 'function') results = true;
    if (role !== 'assistant' || !Array.isArray(calls)) continue;
    for (const c of calls as unknown[]) {
      if (typeof c !== 'object' || c === null) continue;
      const { function: fn, custom } = c as { function?: { name?: unknown }; custom?: { name?: unknown } };
      const name = fn?.name ?? custom?.name;
      if (typeof name === 'string' && name !== '') names.add(name);
    }
  }
  if (names.size === 0 && results) names.add('tool');
  return [...names];
}

/** The same for a Messages history: the names of its `tool_use` blocks, once each; `tool` when it has only `tool_result` blocks; none without either. */
export function messagesToolNames(messages: unknown): string[] {
  if (!Array.isArray(messages)) return [];
  const names = new Set<string>();
  let results = false;
  for (const m of messages as unknown[]) {
    const content = typeof m === 'object' && m !== null ? (m as { content?: unknown }).content : undefined;
    if (!Array.isArray(content)) continue;
    for (const b of content as unknown[]) {
      if (typeof b !== 'object' || b === null) continue;
      const { type, name } = b as { type?: unknown; name?: unknown };
      if (type === 'tool_use' && typeof name === 'string' && name !== '') names.add(name);
      else if (type === 'tool_use' || type === 'tool_result') results = true;
    }
  }
  if (names.size === 0 && results) names.add('tool');
  return [...names];
}

/** What a placeholder says to the model: the tool was there, it is not now. */
export const PLACEHOLDER_DESCRIPTION = 'A tool called earlier in this conversation; it is not offered for this answer.';

/** Anthropic tool definitions for `names`: any object as input, the description above. */
export function placeholderTools(names: readonly string[]): Array<{ name: string; description: string; input_schema: { type: 'object' } }> {
  return names.map((name) => ({ name, description: PLACEHOLDER_DESCRIPTION, input_schema: { type: 'object' } }));
}
