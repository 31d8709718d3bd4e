/**
 * The opt-in `judge` check: a configured model reads the request and the answer and says
 * PASS or FAIL against a short rubric. Building its request and reading its verdict are pure;
 * the cascade sends it like any step (reserved, settled, in the ledger).
 */
import type { ChatBody, ChatMessage } from '../upstream/types.js';
import type { Answer } from './answer.js';

/** What the judge is shown of the request and of the answer, at most. */
const MAX_SHOWN_CHARS = 8_000;

const clip = (s: string): string => (s.length > MAX_SHOWN_CHARS ? `${s.slice(0, MAX_SHOWN_CHARS)}…` : s);

function textOf(m: ChatMessage): string {
  if (typeof m.content === 'string') return m.content;
  if (Array.isArray(m.content))
    return m.content
      .map((p: unknown) => (typeof p === 'object' && p !== null && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
      .join('');
  return '';
}

export function judgeBody(model: string, rubric: string, maxTokens: number, request: ChatBody, a: Answer): ChatBody {
  const asked =
    request.messages
      .filter((m) => m.role === 'user')
      .map(textOf)
      .slice(-1)[0] ?? '';
  const answered = a.toolCalls.length > 0 ? a.toolCalls.map((t) => `call ${t.name}(${t.arguments})`).join('\n') : a.content;
  return {
    model,
    max_tokens: maxTokens,
    temperature: 0,
    messages: [
      { role: 'system', content: `You grade an assistant's answer. ${rubric} Reply with exactly one word: PASS or FAIL.` },
      { role: 'user', content: `Request:\n${clip(asked)}\n\nAnswer:\n${clip(answered)}` },
    ],
  };
}

/**
 * PASS, FAIL, or unclear (an unreadable verdict never escalates on its own). A judge that writes
 * the verdict as a participle ("PASSED", "Failed.") means the same word.
 */
export function judgeVerdict(text: string): 'pass' | 'fail' | 'unclear' {
  const pass = /\bPASS(?:ED|ES)?\b/i.test(text);
  const fail = /\bFAIL(?:ED|S)?\b/i.test(text);
  if (pass === fail) return 'unclear';
  return pass ? 'pass' : 'fail';
}
