/** Adapters by provider kind: the only place that knows which kinds exist. */
import { anthropicAdapter } from './anthropic.js';
import { openaiAdapter } from './openai.js';
import type { ProviderAdapter } from './types.js';

const ADAPTERS: Record<'openai' | 'anthropic', ProviderAdapter> = { openai: openaiAdapter, anthropic: anthropicAdapter };

export function adapterFor(kind: 'openai' | 'anthropic'): ProviderAdapter {
  return ADAPTERS[kind];
}
