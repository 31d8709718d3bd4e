/**
 * The classifier: deterministic and explainable. From the hints, the prompt's words and size
 * and the body's shape it picks a tier and says why in one line. Pure: no I/O, no clock.
 */
import { own } from '../config/lookup.js';
import type { ClassifierConfig, Tier, Capability } from '../config/schema.js';
import { TIERS } from '../config/schema.js';

export interface ClassifyInput {
  /** `x-switchyard-task` */
  task: string | null;
  /** `x-switchyard-tier` */
  tier: string | null;
  /** Text of the user turns (the last one weighs for keywords). */
  text: string;
  promptTokens: number;
  turns: number;
}

export interface Classification {
  tier: Tier;
  reason: string;
  keywordHits: string[];
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whole-word, case-insensitive, Unicode-aware matcher for a keyword list (cached per list). */
const matchers = new WeakMap<readonly string[], RegExp>();
function keywordRegex(words: readonly string[]): RegExp {
  let re = matchers.get(words);
  if (!re) {
    const alts = [...words].sort((a, b) => b.length - a.length).map((w) => escape(w.normalize('NFC')));
    // \p{L}\p{N} boundaries instead of \b, which only knows ASCII word characters.
    re = new RegExp(`(?<![\\p{L}\\p{N}_])(?:${alts.join('|')})(?![\\p{L}\\p{N}_])`, 'giu');
    matchers.set(words, re);
  }
  re.lastIndex = 0;
  return re;
}

export function keywordHits(text: string, words: readonly string[]): string[] {
  if (words.length === 0 || text.length === 0) return [];
  const hits: string[] = [];
  for (const m of text.normalize('NFC').matchAll(keywordRegex(words))) hits.push(m[0].toLowerCase());
  return hits;
}

export function isTier(s: string): s is Tier {
  return (TIERS as readonly string[]).includes(s);
}

/** A short, printable excerpt of client text for the reason header (never the whole of it). */
function excerpt(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?').replace(/"/g, "'");
  return clean.length > 32 ? `${clean.slice(0, 32)}...` : clean;
}

export function classify(input: ClassifyInput, cfg: ClassifierConfig): Classification {
  if (input.tier !== null && isTier(input.tier)) {
    return { tier: input.tier, reason: `tier forced by x-switchyard-tier: ${input.tier}`, keywordHits: [] };
  }
  const task = input.task?.trim().toLowerCase() || null;
  if (task !== null) {
    const mapped = own(cfg.tasks, task);
    if (mapped) return { tier: mapped, reason: `task "${task}" → ${mapped} (config)`, keywordHits: [] };
    if (cfg.simpleTasks.includes(task)) return { tier: 'fast_cheap', reason: `task "${task}" is simple → fast_cheap`, keywordHits: [] };
    if (cfg.complexTasks.includes(task)) return { tier: 'high_quality', reason: `task "${task}" is complex → high_quality`, keywordHits: [] };
  }
  const hits = keywordHits(input.text, cfg.complexityKeywords);
  if (hits.length >= cfg.complexityThreshold) {
    return { tier: 'high_quality', reason: `${hits.length} complexity keywords (${[...new Set(hits)].slice(0, 4).join(', ')}) ≥ ${cfg.complexityThreshold} → high_quality`, keywordHits: hits };
  }
  if (input.promptTokens > cfg.longPromptTokens) {
    return { tier: 'high_quality', reason: `long prompt (${input.promptTokens} tokens > ${cfg.longPromptTokens}) → high_quality`, keywordHits: hits };
  }
  const why = task !== null ? `unknown task "${excerpt(task)}"` : hits.length > 0 ? `${hits.length} complexity keyword(s) < ${cfg.complexityThreshold}` : 'no task hint, no complexity keywords';
  return { tier: 'balanced', reason: `${why} → balanced`, keywordHits: hits };
}

/** Capabilities a request needs, read from its body. */
export function requiredCapabilities(body: { messages: Array<{ content?: unknown }>; tools?: unknown; response_format?: unknown }): Capability[] {
  const caps: Capability[] = [];
  const hasImage = body.messages.some(
    (m) => Array.isArray(m.content) && m.content.some((p: unknown) => typeof p === 'object' && p !== null && (p as { type?: unknown }).type === 'image_url'),
  );
  if (hasImage) caps.push('vision');
  if (Array.isArray(body.tools) && body.tools.length > 0) caps.push('tools');
  const rf = body.response_format as { type?: unknown } | null | undefined;
  if (rf && (rf.type === 'json_object' || rf.type === 'json_schema')) caps.push('json');
  return caps;
}
