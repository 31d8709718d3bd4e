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

/**
 * The request's last user message (its index and text) and its instructions (the system and
 * developer messages' text): what the judge is shown, and what the `language` check reads.
 */
export function requestTexts(request: ChatBody): { last: number; asked: string; instructions: string } {
  const msgs = request.messages;
  let last = -1;
  for (let i = msgs.length - 1; i >= 0; i--)
    if (msgs[i]!.role === 'user') {
      last = i;
      break;
    }
  const asked = last >= 0 ? textOf(msgs[last]!) : '';
  const instructions = msgs
    .filter((m) => m.role === 'system' || m.role === 'developer')
    .map(textOf)
    .filter((t) => t !== '')
    .join('\n');
  return { last, asked, instructions };
}

/** What the judge is shown of the instructions (system/developer messages), and of each earlier turn, at most. */
const MAX_CONTEXT_CHARS = 2_000;
/** The turns before the last user message the judge is shown (the newest): what a follow-up refers to. */
const EARLIER_TURNS = 4;

const clipTo = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n)}…` : s);

/**
 * The judge's request: the client's instructions (system and developer messages), the last few
 * turns before its last user message (a follow-up such as "make it shorter" is judged against
 * what it follows), that message, and the answer — each clipped, so the judge step stays small
 * and its reservation bounded. It saw only the last user message: an answer that followed the
 * system prompt's rules, or a conversation's earlier turns, could be judged a fail for it.
 */
export function judgeBody(model: string, rubric: string, maxTokens: number, request: ChatBody, a: Answer): ChatBody {
  const msgs = request.messages;
  const { last, asked, instructions } = requestTexts(request);
  const earlier = msgs
    .slice(0, Math.max(0, last))
    .filter((m) => m.role === 'user' || m.role === 'assistant')
    .slice(-EARLIER_TURNS)
    .map((m) => ({ role: m.role, text: textOf(m) }))
    .filter((t) => t.text !== '')
    .map((t) => `${t.role}: ${clipTo(t.text, MAX_CONTEXT_CHARS)}`);
  const answered = a.toolCalls.length > 0 ? a.toolCalls.map((t) => `call ${t.name}(${t.arguments})`).join('\n') : a.content;
  const parts = [
    ...(instructions !== '' ? [`Instructions the assistant was given:\n${clipTo(instructions, MAX_CONTEXT_CHARS)}`] : []),
    ...(earlier.length > 0 ? [`Earlier turns:\n${earlier.join('\n')}`] : []),
    `Request:\n${clip(asked)}`,
    `Answer:\n${clip(answered)}`,
  ];
  return {
    model,
    max_tokens: maxTokens,
    temperature: 0,
    messages: [
      { role: 'system', content: `You grade an assistant's answer. ${rubric} Reply with exactly one word: PASS or FAIL.` },
      { role: 'user', content: parts.join('\n\n') },
    ],
  };
}

/**
 * PASS, FAIL, or unclear (an unreadable verdict never escalates on its own). A judge that writes
 * the verdict as a participle ("PASSED", "Failed.") means the same word.
 */
export function judgeVerdict(text: string): 'pass' | 'fail' | 'unclear' {
  const { pass, fail } = judgeWords(text);
  if (pass === fail) return 'unclear';
  return pass ? 'pass' : 'fail';
}

/** Which of the two verdict words the judge's answer has (both, or neither, is unclear). */
export function judgeWords(text: string): { pass: boolean; fail: boolean } {
  return { pass: /\bPASS(?:ED|ES)?\b/i.test(text), fail: /\bFAIL(?:ED|S)?\b/i.test(text) };
}
