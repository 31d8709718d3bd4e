/**
 * Transition coverage of a machine, derived from its definition (not hard-coded): every atomic
 * state × every (event, guard branch) candidate that can be selected in it, including the
 * ancestors' `on`, the `after` delays and `always`. Exercised edges are recorded from a real
 * actor's `@xstate.microstep` inspection events, which name the exact transition taken, so
 * two guard branches with the same target (budget: grant / refuse) are told apart.
 */
import type { AnyMachineSnapshot, AnyStateMachine, AnyStateNode, AnyTransitionDefinition, EventObject, InspectionEvent, StateValue } from 'xstate';

/** One candidate transition: `branch` is its index among the candidates of (source, event). */
export interface Edge {
  source: string;
  event: string;
  target: string;
  branch: number;
}

export interface CoverageReport {
  states: { covered: number; total: number; missing: string[] };
  transitions: { covered: number; total: number; missing: string[] };
}

export const edgeKey = (e: Edge): string => `${e.source} --${e.event}#${e.branch}--> ${e.target}`;

const pathOf = (node: AnyStateNode): string => node.path.join('.');
const eventName = (t: AnyTransitionDefinition): string => (t.eventType === '' ? 'always' : t.eventType);

function atomicStates(node: AnyStateNode): AnyStateNode[] {
  const children = Object.values(node.states);
  return children.length === 0 ? [node] : children.flatMap(atomicStates);
}

/** The node itself, then its ancestors up to the root: the order in which xstate selects. */
function chain(node: AnyStateNode): AnyStateNode[] {
  const out: AnyStateNode[] = [];
  for (let n: AnyStateNode | undefined = node; n; n = n.parent) out.push(n);
  return out;
}

const memo = new WeakMap<AnyStateNode, Map<string, AnyTransitionDefinition[]>>();

/** Candidates for (source, event) in selection order, cut after the first unguarded one. */
function candidatesOf(source: AnyStateNode, event: string): AnyTransitionDefinition[] {
  const bySource = memo.get(source) ?? new Map<string, AnyTransitionDefinition[]>();
  memo.set(source, bySource);
  const known = bySource.get(event);
  if (known) return known;
  const out: AnyTransitionDefinition[] = [];
  bySource.set(event, out);
  for (const n of chain(source)) {
    const list = event === 'always' ? (n.always ?? []) : (n.transitions.get(event) ?? []);
    for (const t of list) {
      out.push(t);
      if (!t.guard) return out;
    }
  }
  return out;
}

function eventsOf(source: AnyStateNode): string[] {
  const types = new Set<string>();
  for (const n of chain(source)) {
    for (const type of n.transitions.keys()) types.add(type);
    if (n.always?.length) types.add('always');
  }
  return [...types];
}

/** A top-level final state completes the actor: nothing is selected in it any more. */
const completesActor = (n: AnyStateNode): boolean => n.type === 'final' && n.parent?.parent === undefined;

function toEdge(source: AnyStateNode, event: string, t: AnyTransitionDefinition, branch: number): Edge {
  const target = t.target?.[0];
  return { source: pathOf(source), event, target: target ? pathOf(target) : pathOf(source), branch };
}

/** All states and candidate transitions of `machine`, by key. */
export function machineCandidates(machine: AnyStateMachine): { states: string[]; edges: Map<string, Edge> } {
  const atoms = atomicStates(machine.root);
  const edges = new Map<string, Edge>();
  for (const s of atoms.filter((a) => !completesActor(a))) {
    for (const event of eventsOf(s)) {
      candidatesOf(s, event).forEach((t, i) => {
        const e = toEdge(s, event, t, i);
        edges.set(edgeKey(e), e);
      });
    }
  }
  return { states: atoms.map(pathOf), edges };
}

/** The active atomic state's path (these machines have no parallel states). */
function leafPath(value: StateValue): string {
  if (typeof value === 'string') return value;
  const [key, child] = Object.entries(value)[0] ?? [];
  if (key === undefined) return '';
  return child === undefined ? key : `${key}.${leafPath(child)}`;
}

function initialLeaf(node: AnyStateNode): string {
  const next = node.initial?.target[0];
  return next ? initialLeaf(next) : pathOf(node);
}

const valueOf = (snapshot: unknown): StateValue | undefined =>
  typeof snapshot === 'object' && snapshot !== null && 'value' in snapshot ? (snapshot.value as StateValue) : undefined;

/** The edge `t` is, taken while the actor was in the atomic state `current` (needed for ancestors' transitions). */
function edgeOf(machine: AnyStateMachine, t: AnyTransitionDefinition, current: string | undefined): Edge | undefined {
  const sourcePath = t.source.type === 'atomic' || t.source.type === 'final' ? pathOf(t.source) : current;
  if (sourcePath === undefined) return undefined;
  const source = machine.getStateNodeById(`${machine.id}.${sourcePath}`);
  const event = eventName(t);
  const branch = candidatesOf(source, event).indexOf(t);
  return branch < 0 ? undefined : toEdge(source, event, t, branch);
}

/** The edges `event` selects in `snapshot` (without the `always` that may follow), as keys: for edge-aware graph keys. */
export function selectedEdges(machine: AnyStateMachine, snapshot: AnyMachineSnapshot, event: EventObject): string {
  const current = leafPath(snapshot.value);
  return machine
    .getTransitionData(snapshot, event)
    .map((t) => edgeOf(machine, t, current))
    .map((e) => (e ? edgeKey(e) : '?'))
    .join(' & ');
}

/**
 * Records the edges a root actor takes. Pass `inspect` to `createActor`; one recorder may
 * watch many actors of the same machine in turn (children of the root are ignored).
 */
export function createEdgeRecorder(machine: AnyStateMachine): { inspect: (ev: InspectionEvent) => void; edges: Map<string, Edge>; states: Set<string> } {
  const edges = new Map<string, Edge>();
  const states = new Set<string>([initialLeaf(machine.root)]);
  let prev: string | undefined;
  const inspect = (ev: InspectionEvent): void => {
    if (ev.rootId !== ev.actorRef.sessionId) return;
    if (ev.type === '@xstate.actor') prev = undefined;
    if (ev.type !== '@xstate.microstep') {
      const v = ev.type === '@xstate.snapshot' ? valueOf(ev.snapshot) : undefined;
      if (v !== undefined) prev = leafPath(v);
      return;
    }
    const after = valueOf(ev.snapshot);
    for (const t of ev._transitions) {
      const e = edgeOf(machine, t, prev);
      if (e) edges.set(edgeKey(e), e);
    }
    if (after !== undefined) {
      prev = leafPath(after);
      states.add(prev);
    }
  };
  return { inspect, edges, states };
}

/** Computes and prints `[model-coverage] name: states a/b, transitions c/d`. */
export function reportCoverage(name: string, machine: AnyStateMachine, exercised: Iterable<Edge>, visited: Iterable<string> = []): CoverageReport {
  const { states, edges } = machineCandidates(machine);
  const seenEdges = new Set([...exercised].map(edgeKey));
  const seenStates = new Set(visited);
  for (const e of edges.values()) {
    if (seenEdges.has(edgeKey(e))) seenStates.add(e.source).add(e.target);
  }
  const missingStates = states.filter((s) => !seenStates.has(s));
  const missingEdges = [...edges.keys()].filter((k) => !seenEdges.has(k));
  const report: CoverageReport = {
    states: { covered: states.length - missingStates.length, total: states.length, missing: missingStates },
    transitions: { covered: edges.size - missingEdges.length, total: edges.size, missing: missingEdges },
  };
  console.log(
    `[model-coverage] ${name}: states ${report.states.covered}/${report.states.total}, transitions ${report.transitions.covered}/${report.transitions.total}` +
      (missingEdges.length ? ` (missing: ${missingEdges.join('; ')})` : ''),
  );
  return report;
}
