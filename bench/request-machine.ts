/**
 * `node bench/run-ts.js bench/request-machine.ts`: what one request's lifecycle costs in
 * each way the request chart can be executed — the decision behind running the reducer on the
 * hot path (see machines/request.machine.ts). One request = the 7 steps of a streamed answer
 * that succeeds at once: initial, routed, picked, granted, committed, succeeded, settled.
 * Prints CPU µs per request (process.cpuUsage over BENCH_REQUESTS, default 20000).
 */
import { createActor, initialTransition, transition, type AnyActorScope } from 'xstate';
import { requestMachine, startRequest, stepRequest, type ReqEvent, type ReqInput } from '../machines/request.machine.js';

const N = Number(process.env.BENCH_REQUESTS ?? 20_000);
const input: ReqInput = { receivedAt: 0, deadlineAt: 60_000, maxTotalAttempts: 6, maxCostNano: null };
const events: ReqEvent[] = [
  { type: 'request.routed', at: 1, candidates: ['a', 'b'] },
  { type: 'endpoint.picked', at: 1, endpoint: 'a@x', model: 'a', amount: 100 },
  { type: 'budget.granted', at: 1, budgets: ['global:daily'], slotGone: false },
  { type: 'attempt.committed', at: 2 },
  { type: 'attempt.succeeded', at: 3, costNano: 50 },
  { type: 'budget.settled', at: 3 },
];

function measure(name: string, one: () => string): void {
  for (let i = 0; i < Math.min(N, 2000); i++) one();
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) if (one() !== 'done') throw new Error(`${name}: did not finish`);
  const c = process.cpuUsage(c0);
  console.log(`${name.padEnd(46)} ${((c.user + c.system) / N).toFixed(2).padStart(8)} µs/request`);
}

measure('reducer (stepRequest, what the runtime runs)', () => {
  let s = startRequest(input);
  for (const e of events) s = stepRequest(s, e);
  return s.value;
});

// One inert scope reused for every call: what transition() builds afresh each time.
const self = createActor(requestMachine, { input });
const scope = {
  self,
  defer: () => {},
  id: '',
  logger: () => {},
  sessionId: '',
  stopChild: () => {},
  system: self.system,
  emit: () => {},
  actionExecutor: () => {},
} as unknown as AnyActorScope;
measure('requestMachine.transition, one reused scope', () => {
  let s = requestMachine.getInitialSnapshot(scope, input);
  for (const e of events) s = requestMachine.transition(s, e, scope);
  return String(s.value);
});

measure('xstate initialTransition() / transition()', () => {
  let [s] = initialTransition(requestMachine, input);
  for (const e of events) [s] = transition(requestMachine, s, e);
  return String(s.value);
});

measure('a root actor per request (createActor + send)', () => {
  const a = createActor(requestMachine, { input }).start();
  for (const e of events) a.send(e);
  const v = String(a.getSnapshot().value);
  a.stop();
  return v;
});
