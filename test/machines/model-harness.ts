/**
 * Model-based testing with xstate/graph, the way shared/design/xstate-notes.md prescribes:
 * `new TestModel(logic)` (the machines have `after`), events offered as a function of the
 * snapshot's own event descriptors with payloads filled in, an abstraction of the snapshot
 * (state value + the bounded quantities the guards read) as the graph key, made edge-aware
 * with the machine transition that led there, and every path replayed on a real actor that
 * runs on a `SimulatedClock`: each `xstate.after.*` step becomes a clock increment, checked
 * one millisecond before it elapses too.
 */
import { expect } from 'vitest';
import {
  __unsafe_getAllOwnEventDescriptors as ownEventDescriptors,
  createActor,
  createEmptyActor,
  getNextSnapshot,
  SimulatedClock,
  type ActorLogic,
  type Actor,
  type AnyActorScope,
  type AnyStateMachine,
  type EventFromLogic,
  type EventObject,
  type InputFrom,
  type SnapshotFrom,
} from 'xstate';
import { TestModel, type StatePath } from 'xstate/graph';
import { createEdgeRecorder, selectedEdges } from './coverage.js';

/** A delayed transition's event as the graph offers it (`xstate.after.<delay>.<stateNodeId>`). */
export interface AfterEvent {
  type: `xstate.after.${string}`;
}
export const isAfter = (e: { type: string }): e is AfterEvent => e.type.startsWith('xstate.after.');
const typeOf = (e: unknown): string => (e as EventObject).type;

export type ModelEvent<M extends AnyStateMachine> = EventFromLogic<M> | AfterEvent;
export type ModelPath<M extends AnyStateMachine> = StatePath<SnapshotFrom<M>, ModelEvent<M>>;

export interface ModelSpec<M extends AnyStateMachine> {
  machine: M;
  input: InputFrom<M>;
  /**
   * What is compared at each step and keys the graph. It must determine the machine's
   * future given the offered events, so it holds times relative to the context's `now`.
   */
  abstract: (s: SnapshotFrom<M>) => unknown;
  /** The events offered in `s`: `own` are its own event descriptors (after events included). */
  events: (s: SnapshotFrom<M>, own: readonly string[]) => Array<ModelEvent<M>>;
  /** A path's event re-based onto the live actor (payload times are relative to `at`). */
  materialize: (e: EventFromLogic<M>, live: SnapshotFrom<M>) => EventFromLogic<M>;
  /** The delay the machine should wait for `after` in `before` (checked against the timer). */
  expectedDelay?: (before: SnapshotFrom<M>, after: AfterEvent) => number;
  /** The machine spawns children (see `isolated`). */
  spawns?: boolean;
  /** Per path: observe the live actor; the returned check runs after every step. */
  attach?: (actor: Actor<M>) => (step: { event: EventObject; before: SnapshotFrom<M>; after: SnapshotFrom<M> }) => void;
}

/**
 * For a machine that spawns, each graph transition runs in a fresh scope: the library shares
 * one mock actor system for the whole traversal, so spawning the same `systemId` on two
 * branches would throw.
 */
function isolated<M extends AnyStateMachine>(machine: M): ActorLogic<SnapshotFrom<M>, ModelEvent<M>, InputFrom<M>> {
  const scope = (): AnyActorScope => {
    const self = createEmptyActor();
    return {
      self,
      id: '',
      sessionId: '',
      logger: () => {},
      defer: () => {},
      emit: () => {},
      system: self.system,
      stopChild: () => {},
      actionExecutor: () => {},
    };
  };
  return {
    config: machine.config,
    transition: (s, e) => machine.transition(s, e, scope()) as SnapshotFrom<M>,
    getInitialSnapshot: (_scope, input) => machine.getInitialSnapshot(scope(), input) as SnapshotFrom<M>,
    getPersistedSnapshot: (s) => machine.getPersistedSnapshot(s),
  };
}

export function buildModel<M extends AnyStateMachine>(spec: ModelSpec<M>): TestModel<SnapshotFrom<M>, ModelEvent<M>, InputFrom<M>> {
  const key = (s: SnapshotFrom<M>): string => JSON.stringify(spec.abstract(s));
  const logic = spec.spawns ? isolated(spec.machine) : (spec.machine as unknown as ActorLogic<SnapshotFrom<M>, ModelEvent<M>, InputFrom<M>>);
  return new TestModel(logic, {
    input: spec.input,
    events: (s) => spec.events(s, ownEventDescriptors(s)),
    // Edge-aware: the same abstract state reached by two machine transitions is two vertices. The
    // edge is chosen with the event re-based onto `prev` (as a replay does): the library may pass
    // another snapshot of the same key than the one whose event it was (a probe's round differs).
    serializeState: (s, e, prev) =>
      e && prev ? `${key(s)} <= ${selectedEdges(spec.machine, prev, isAfter(e) ? e : spec.materialize(e as EventFromLogic<M>, prev))}` : key(s),
    serializeEvent: (e) => JSON.stringify(e),
    limit: 40_000,
  });
}

/**
 * Runs `path` on a real actor with a simulated clock and asserts the abstraction after every
 * step. A timer re-armed with delay 0 while the clock flushes may fire in that same instant;
 * then the path's next step (that timer) is taken there and then.
 */
export function replay<M extends AnyStateMachine>(spec: ModelSpec<M>, path: ModelPath<M>, recorder: ReturnType<typeof createEdgeRecorder>): void {
  const clock = new SimulatedClock();
  const fired: string[] = [];
  const actor = createActor(spec.machine, {
    input: spec.input,
    clock,
    inspect: (ev) => {
      recorder.inspect(ev);
      if (ev.type === '@xstate.event' && ev.rootId === ev.actorRef.sessionId && isAfter(ev.event)) fired.push(ev.event.type);
    },
  });
  const check = spec.attach?.(actor);
  // The scheduler stamps timers with `Date.now()`, so note the simulated time each appears.
  const armedAt = new WeakMap<object, number>();
  const timers = () => Object.values(actor.system.getSnapshot()._scheduledEvents);
  const noteTimers = (): void => timers().forEach((t) => armedAt.has(t) || armedAt.set(t, clock.now()));
  actor.start();
  noteTimers();
  const live = (): SnapshotFrom<M> => actor.getSnapshot() as SnapshotFrom<M>;
  const where = (i: number): string => `step ${i} of ${path.steps.map((s) => typeOf(s.event)).join(' → ')}`;
  // Compared as JSON first: building the messages for every step would dominate the run time.
  const same = (actual: unknown, expected: unknown, message: () => string): void => {
    if (JSON.stringify(actual) !== JSON.stringify(expected)) expect(actual, message()).toEqual(expected);
  };
  const first = path.steps[0];
  same(spec.abstract(live()), first && spec.abstract(first.state), () => 'initial state');
  for (let i = 1; i < path.steps.length; i++) {
    const step = path.steps[i];
    const modelBefore = path.steps[i - 1]?.state;
    if (!step || !modelBefore) break;
    const event = step.event as EventObject;
    const before = live();
    let expected = step.state;
    if (!isAfter(event)) {
      actor.send(spec.materialize(event as EventFromLogic<M>, before));
    } else {
      const timer = timers().find((t) => t.event.type === event.type);
      if (!timer) expect.fail(`no timer for ${event.type} at ${where(i)}`);
      const wait = (armedAt.get(timer) ?? clock.now()) + timer.delay - clock.now();
      if (spec.expectedDelay) same(wait, spec.expectedDelay(modelBefore, event), () => `delay of ${event.type} at ${where(i)}`);
      if (wait >= 1) {
        clock.increment(wait - 1);
        same(spec.abstract(live()), spec.abstract(before), () => `1 ms before ${event.type} at ${where(i)}`);
      }
      fired.length = 0;
      clock.increment(wait >= 1 ? 1 : 0);
      same(fired[0], event.type, () => `fired at ${where(i)}`);
      for (const extra of fired.slice(1)) {
        const next = path.steps[i + 1];
        if (next && typeOf(next.event) === extra) {
          i++;
          expected = next.state;
        } else {
          expected = getNextSnapshot(spec.machine, expected, { type: extra } as EventFromLogic<M>);
        }
      }
    }
    noteTimers();
    same(spec.abstract(live()), spec.abstract(expected), () => where(i));
    check?.({ event, before, after: live() });
  }
  actor.stop();
}

/**
 * Shortest paths form a tree (each extends the path to its parent vertex): running only the
 * leaves runs them all. Linear, unlike the library's pairwise de-duplication.
 */
function leaves<P extends { steps: ReadonlyArray<{ event: unknown }> }>(paths: P[]): P[] {
  const seq = (p: P, n: number): string =>
    p.steps
      .slice(0, n)
      .map((s) => JSON.stringify(s.event))
      .join('\n');
  const inner = new Set(paths.map((p) => seq(p, p.steps.length - 1)));
  return paths.filter((p) => !inner.has(seq(p, p.steps.length)));
}

/** Shortest paths to every edge-aware vertex, each replayed; the recorder holds the coverage. */
export function runShortestPaths<M extends AnyStateMachine>(spec: ModelSpec<M>): { paths: number; recorder: ReturnType<typeof createEdgeRecorder> } {
  const recorder = createEdgeRecorder(spec.machine);
  const cpu = (): number => process.cpuUsage().user / 1000;
  const t0 = cpu();
  const paths = leaves(buildModel(spec).getShortestPaths({ allowDuplicatePaths: true }));
  const t1 = cpu();
  for (const path of paths) replay(spec, path, recorder);
  if (process.env.MODEL_TIMING)
    console.log(`[model-timing] ${spec.machine.id}: ${paths.length} paths, graph ${Math.round(t1 - t0)} ms, replay ${Math.round(cpu() - t1)} ms of CPU`);
  return { paths: paths.length, recorder };
}
