/**
 * The built-in default catalogue: the seed's four models with their prices (USD per million
 * tokens), tiers, providers' own endpoints, and the seed's routing matrix as routes.
 * Tiers as the system this project implements defines them: fast_cheap = DeepSeek V3.2 (then
 * Gemini 2.5 Flash, its fallback), balanced = Gemini 2.5 Flash (then DeepSeek), high_quality =
 * GPT-4.1 and Claude Sonnet 4.5 (each the other's fallback).
 */
import type { ConfigInput } from './schema.js';

export const DEFAULT_CONFIG: ConfigInput = {
  providers: {
    openai: { kind: 'openai', baseUrl: 'https://api.openai.com/v1', apiKeyEnv: 'OPENAI_API_KEY' },
    anthropic: { kind: 'anthropic', baseUrl: 'https://api.anthropic.com', apiKeyEnv: 'ANTHROPIC_API_KEY' },
    gemini: { kind: 'openai', baseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai', apiKeyEnv: 'GEMINI_API_KEY' },
    deepseek: { kind: 'openai', baseUrl: 'https://api.deepseek.com/v1', apiKeyEnv: 'DEEPSEEK_API_KEY' },
  },
  models: {
    'gpt-4.1': {
      tier: 'high_quality',
      price: { inputPerMTok: 2.0, outputPerMTok: 8.0, cachedInputPerMTok: 0.5 },
      contextWindow: 1_047_576,
      capabilities: ['chat', 'code', 'reasoning', 'tools', 'json', 'vision'],
      latencyPriorMs: 600,
      maxOutputTokens: 32_768,
      fallbacks: ['claude-sonnet-4.5'],
      endpoints: [{ provider: 'openai', upstreamModel: 'gpt-4.1', rpm: 500, tpm: 2_000_000, maxConcurrent: 64 }],
      aliases: ['gpt-4.1-2025-04-14'],
    },
    'claude-sonnet-4.5': {
      tier: 'high_quality',
      price: { inputPerMTok: 3.0, outputPerMTok: 15.0, cachedInputPerMTok: 0.3, cacheWritePerMTok: 3.75 },
      contextWindow: 200_000,
      capabilities: ['chat', 'code', 'reasoning', 'tools', 'json', 'vision', 'prefill'],
      latencyPriorMs: 900,
      maxOutputTokens: 64_000,
      fallbacks: ['gpt-4.1'],
      endpoints: [{ provider: 'anthropic', upstreamModel: 'claude-sonnet-4-5', rpm: 50, tpm: 400_000, maxConcurrent: 32 }],
      // Anthropic's own ids, as its SDK and tools send them.
      aliases: ['claude-sonnet-4-5', 'claude-sonnet-4-5-20250929'],
    },
    'gemini-2.5-flash': {
      tier: 'balanced',
      price: { inputPerMTok: 0.3, outputPerMTok: 2.5, cachedInputPerMTok: 0.075 },
      contextWindow: 1_048_576,
      capabilities: ['chat', 'code', 'reasoning', 'tools', 'json', 'vision'],
      latencyPriorMs: 400,
      maxOutputTokens: 65_536,
      fallbacks: ['deepseek-v3.2'],
      endpoints: [{ provider: 'gemini', upstreamModel: 'gemini-2.5-flash', rpm: 1000, tpm: 1_000_000, maxConcurrent: 64 }],
    },
    'deepseek-v3.2': {
      tier: 'fast_cheap',
      price: { inputPerMTok: 0.28, outputPerMTok: 0.42, cachedInputPerMTok: 0.028 },
      contextWindow: 128_000,
      capabilities: ['chat', 'code', 'reasoning', 'tools', 'json'],
      latencyPriorMs: 35,
      maxOutputTokens: 8192,
      fallbacks: ['gemini-2.5-flash'],
      endpoints: [{ provider: 'deepseek', upstreamModel: 'deepseek-chat', rpm: 60, tpm: 1_000_000, maxConcurrent: 10 }],
      aliases: ['deepseek-chat'],
    },
  },
  routing: {
    strategy: 'cost',
    routes: {
      chatbot: ['deepseek-v3.2', 'gemini-2.5-flash'],
      code: ['deepseek-v3.2', 'gpt-4.1'],
      analysis: ['gpt-4.1', 'claude-sonnet-4.5'],
      longform: ['gemini-2.5-flash', 'deepseek-v3.2'],
      translation: ['deepseek-v3.2'],
    },
  },
};
