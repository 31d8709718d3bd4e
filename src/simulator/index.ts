/**
 * The provider simulator: a fake upstream speaking the OpenAI chat completions and the
 * Anthropic Messages wire formats, with per-model latency, deterministic answers, rate limits
 * and injectable faults. Used by tests, the demo and benchmarks.
 */
export type { Simulator, SimulatorOptions } from './start.js';
export { startSimulator } from './start.js';
export type { Fault, FaultKind } from './faults.js';
export { FaultSchema, ALL_MODELS } from './faults.js';
export type { ModelProfile, SimulatorProfile } from './profile.js';
export { loadProfile, SimulatorProfileSchema } from './profile.js';
export type { SimRequestLogEntry } from './types.js';
export { answerTokens } from './text.js';
