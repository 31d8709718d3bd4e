/**
 * In-process CPU of reading a chat body: `JSON.parse` + `parseChatBody` (the in-place check, zod
 * only when it gives up) against `JSON.parse` + `parseChatBodyZod` (zod alone, the path before),
 * in alternating rounds; µs of CPU (user + system) per body, median and fastest round.
 *
 *   npx esbuild bench/validate-micro.ts --bundle --format=esm --platform=node --packages=external --outfile=scratch/vm.mjs && node scratch/vm.mjs [--n 200000] [--rounds 5]
 */
import { parseChatBody, parseChatBodyZod } from '../src/http/validate.js';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('n', 200_000);
const ROUNDS = arg('rounds', 5);

const tools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather for a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_time',
      description: 'Local time in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
];
const BODIES: Record<string, string> = {
  bench: '{"model":"gpt-4.1","messages":[{"role":"user","content":"Say hello to the benchmark in a few words, please."}],"max_tokens":64}',
  stream: JSON.stringify({
    model: 'gpt-4.1',
    messages: [{ role: 'user', content: 'Say hello to the benchmark in a few words, please.' }],
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: 64,
  }),
  'tools, 5 messages': JSON.stringify({
    model: 'gpt-4.1',
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: [{ type: 'text', text: 'What is the weather in Paris?' }] },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', content: '{"temp_c":18,"sky":"clear"}', tool_call_id: 'call_1' },
      { role: 'user', content: 'And the time there?' },
    ],
    tools,
    tool_choice: 'auto',
    temperature: 0.2,
    max_tokens: 256,
  }),
  // The Python SDK's order (messages before model, tool messages with tool_call_id before content): copied in zod's order.
  'tools, 5 messages, python order': JSON.stringify({
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: [{ type: 'text', text: 'What is the weather in Paris?' }] },
      { content: null, role: 'assistant', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp_c":18,"sky":"clear"}' },
      { role: 'user', content: 'And the time there?' },
    ],
    model: 'gpt-4.1',
    max_tokens: 256,
    temperature: 0.2,
    tool_choice: 'auto',
    tools,
  }),
};

const variants: Record<string, (raw: unknown) => unknown> = { zod: parseChatBodyZod, 'in place': parseChatBody };

let sink = 0;
/** µs per body: `JSON.parse` + `f` of the text, or (`parsed`) `f` alone on one parsed body (neither path changes its input). */
function round(text: string, f: (raw: unknown) => unknown, parsed: unknown = null): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    const body = f(parsed ?? JSON.parse(text)) as { messages: unknown[] };
    sink += body.messages.length;
  }
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / N;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [name, text] of Object.entries(BODIES)) {
  const times: Record<string, number[]> = { 'JSON.parse only': [] };
  for (const v of Object.keys(variants)) {
    times[`JSON.parse + ${v}`] = [];
    times[`${v} alone`] = [];
  }
  for (let r = 0; r < ROUNDS; r++) {
    times['JSON.parse only']!.push(round(text, (raw) => raw));
    for (const [v, f] of Object.entries(variants)) {
      times[`JSON.parse + ${v}`]!.push(round(text, f));
      times[`${v} alone`]!.push(round(text, f, JSON.parse(text)));
    }
  }
  console.log(`${name} (${text.length} B):`);
  for (const [v, ts] of Object.entries(times)) console.log(`  ${v.padEnd(22)} median ${median(ts).toFixed(3)} µs, fastest ${Math.min(...ts).toFixed(3)} µs`);
}
if (sink === 0) console.log('');
