/**
 * The judge's request: it reads the client's instructions and the turns a follow-up refers to,
 * not only the last user message, each clipped so the judge step stays bounded.
 */
import { describe, expect, it } from 'vitest';
import type { Answer } from '../../src/quality/answer.js';
import { judgeBody } from '../../src/quality/judge.js';
import type { ChatBody } from '../../src/upstream/types.js';

const answer: Answer = { content: 'A shorter poem.', refusal: null, toolCalls: [], finishReason: 'stop', logprobs: null };
const shown = (body: ChatBody): string => judgeBody('judge-model', 'Is it right?', 5, body, answer).messages[1]!.content as string;

describe('judgeBody', () => {
  it('shows the instructions and the earlier turns before the request and the answer', () => {
    const body = {
      model: 'auto',
      messages: [
        { role: 'system', content: 'Answer in French only.' },
        { role: 'user', content: 'Write a poem about the sea.' },
        { role: 'assistant', content: 'La mer, la mer, toujours recommencée…' },
        { role: 'user', content: 'Make it shorter.' },
      ],
    } as ChatBody;
    const text = shown(body);
    expect(text).toContain('Answer in French only.');
    expect(text).toContain('user: Write a poem about the sea.');
    expect(text).toContain('assistant: La mer, la mer');
    expect(text.indexOf('Earlier turns')).toBeLessThan(text.indexOf('Request:\nMake it shorter.'));
    expect(text).toContain('Answer:\nA shorter poem.');
    // The last user message is the request, not an earlier turn.
    expect(text).not.toContain('user: Make it shorter.');
  });

  it('keeps the judge small: the newest four earlier turns, each clipped, and the instructions clipped', () => {
    const long = 'x'.repeat(5_000);
    const messages: ChatBody['messages'] = [{ role: 'developer', content: long }];
    for (let i = 0; i < 10; i++) messages.push({ role: i % 2 === 0 ? 'user' : 'assistant', content: `turn ${i} ${long}` });
    messages.push({ role: 'user', content: 'last' });
    const text = shown({ model: 'auto', messages } as ChatBody);
    expect(text).not.toContain('turn 5 ');
    for (const i of [6, 7, 8, 9]) expect(text).toContain(`turn ${i} `);
    expect(text.length).toBeLessThan(2_100 * 5 + 500);
  });

  it('an earlier turn ending in a colon is shown; one with no text (a tool call alone) is left out', () => {
    const text = shown({
      model: 'auto',
      messages: [
        { role: 'user', content: 'List three colours.' },
        { role: 'assistant', content: 'Here they are: ' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'user', content: 'Now four.' },
      ],
    } as ChatBody);
    expect(text).toContain('assistant: Here they are: ');
    expect(text).not.toContain('assistant: \n');
  });

  it('a single-turn request is shown as before: the request and the answer', () => {
    const text = shown({ model: 'auto', messages: [{ role: 'user', content: 'What is 2+2?' }] } as ChatBody);
    expect(text).toBe('Request:\nWhat is 2+2?\n\nAnswer:\nA shorter poem.');
  });
});
