/** A budget refusal says when the refusing budget starts over (UTC periods), or that a total one never does. */
import { describe, expect, it } from 'vitest';
import { budgetResetNote } from '../../src/runtime/request-outcome.js';

describe('budgetResetNote', () => {
  const now = Date.UTC(2026, 11, 31, 22, 15); // 31 Dec 2026, 22:15 UTC
  it('a day budget resets at the next UTC midnight, a month budget on the first of the next month', () => {
    expect(budgetResetNote('global:day', now)).toBe("; this day's budget resets at 2027-01-01T00:00:00Z (UTC)");
    expect(budgetResetNote('model:gpt-4.1:month', now)).toBe("; this month's budget resets at 2027-01-01T00:00:00Z (UTC)");
    expect(budgetResetNote('key:team:a:day', Date.UTC(2026, 1, 28, 23, 59))).toBe("; this day's budget resets at 2026-03-01T00:00:00Z (UTC)");
  });
  it('a total budget does not reset', () => {
    expect(budgetResetNote('key:ci:total', now)).toBe('; a total budget does not reset (raise its limit in budget.limits)');
  });
});
