import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG, SwitchyardError, UPSTREAM_TEXT_AT_DEBUG, errorBody, loggedMessage, upstreamClientError, type ErrorCode } from '../../src/errors.js';

/** Spec §3: the status of every error code the contract names. */
const SPEC_STATUS: Array<[ErrorCode, number]> = [
  ['invalid_request', 400],
  ['model_not_found', 400],
  ['invalid_api_key', 401],
  ['budget_exceeded', 429],
  ['rate_limited', 429],
  ['no_endpoint_available', 503],
  ['shared_state_unavailable', 503],
  ['timeout', 504],
  ['upstream_error', 502],
  ['body_too_large', 413],
];

describe('error catalog', () => {
  it.each(SPEC_STATUS)('%s has status %i', (code, status) => {
    expect(ERROR_CATALOG[code].status).toBe(status);
    const err = new SwitchyardError(code, 'msg');
    expect(err.status).toBe(status);
    expect(err.code).toBe(code);
    expect(errorBody(err).status).toBe(status);
  });

  it('gives every code an error status and a type', () => {
    for (const [code, entry] of Object.entries(ERROR_CATALOG)) {
      expect(entry.status, code).toBeGreaterThanOrEqual(400);
      expect(entry.status, code).toBeLessThan(600);
      expect(entry.type, code).toMatch(/^[a-z_]+$/);
    }
  });

  it('uses OpenAI error types for the well-known cases', () => {
    expect(ERROR_CATALOG.invalid_request.type).toBe('invalid_request_error');
    expect(ERROR_CATALOG.invalid_api_key.type).toBe('authentication_error');
    expect(ERROR_CATALOG.rate_limited.type).toBe('rate_limit_error');
  });
});

describe('SwitchyardError bodies', () => {
  it('are exactly {error:{message,type,param,code}}', () => {
    const body = new SwitchyardError('model_not_found', 'The model "gpt-9" does not exist', { param: 'model' }).toBody();
    expect(body).toStrictEqual({
      error: { message: 'The model "gpt-9" does not exist', type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
    });
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  });

  it('has param null when none is given, and survives JSON', () => {
    const body = new SwitchyardError('timeout', 'deadline passed').toBody();
    expect(body.error.param).toBeNull();
    expect(JSON.parse(JSON.stringify(body))).toStrictEqual({ error: { message: 'deadline passed', type: 'timeout_error', param: null, code: 'timeout' } });
  });

  it('errorBody passes headers through', () => {
    const err = new SwitchyardError('budget_exceeded', 'over budget', { headers: { 'x-should-retry': 'false' } });
    expect(errorBody(err)).toStrictEqual({
      status: 429,
      body: { error: { message: 'over budget', type: 'budget_exceeded', param: null, code: 'budget_exceeded' } },
      // switchyard's own code on every error answer (an Anthropic body has no code field).
      headers: { 'x-switchyard-error-code': 'budget_exceeded', 'x-should-retry': 'false' },
    });
  });

  it('is an Error with the message', () => {
    const err = new SwitchyardError('upstream_error', 'upstream answered 500 on every attempt');
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('upstream answered 500 on every attempt');
  });
});

describe('upstreamClientError', () => {
  it("keeps the provider's status, code, message, type and param", () => {
    const err = upstreamClientError(400, {
      message: "This model's maximum context length is 128000 tokens.",
      type: 'invalid_request_error',
      code: 'context_length_exceeded',
      param: 'messages',
    });
    expect(err).toBeInstanceOf(SwitchyardError);
    expect(errorBody(err)).toStrictEqual({
      status: 400,
      body: {
        error: {
          message: "This model's maximum context length is 128000 tokens.",
          type: 'invalid_request_error',
          param: 'messages',
          code: 'context_length_exceeded',
        },
      },
      // A prompt over the window says so in the header, as switchyard's own refusal does.
      headers: { 'x-switchyard-error-code': 'context_length_exceeded' },
    });
  });

  it('keeps a non-400 status such as 422', () => {
    const err = upstreamClientError(422, { message: 'unprocessable', type: 'unprocessable_entity', code: 'bad_schema', param: null });
    expect(err.status).toBe(422);
    expect(err.type).toBe('unprocessable_entity');
    expect(err.code).toBe('bad_schema');
  });

  it("fills a missing type with OpenAI's default; a missing code is null, as OpenAI itself sends it (it said invalid_request, a code the provider never gave)", () => {
    expect(upstreamClientError(404, { message: 'no such thing' }).toBody()).toStrictEqual({
      error: { message: 'no such thing', type: 'invalid_request_error', param: null, code: null },
    });
    const e = upstreamClientError(400, { message: 'm', type: null, code: null, param: null });
    expect(e.toBody().error).toMatchObject({ type: 'invalid_request_error', code: null });
    // switchyard's own code stays in the header (and the ledger's error_code).
    expect([e.code, e.headers['x-switchyard-error-code']]).toEqual(['invalid_request', 'invalid_request']);
  });
});

describe('errors that are not SwitchyardErrors', () => {
  const leaky = new Error('password=hunter2 at /srv/secret/path.ts');

  it('become a 500 internal_error', () => {
    const out = errorBody(leaky);
    expect(out.status).toBe(500);
    expect(out.headers).toEqual({ 'x-switchyard-error-code': 'internal_error' });
    expect(out.body.error).toMatchObject({ type: 'server_error', code: 'internal_error', param: null });
    expect(Object.keys(out.body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  });

  it('leak neither the message nor the stack', () => {
    const text = JSON.stringify(errorBody(leaky));
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('/srv/secret');
    expect(text).not.toContain('stack');
    const frame = leaky.stack?.split('\n')[1]?.trim() ?? '';
    expect(frame).toMatch(/^at /);
    expect(text).not.toContain(frame);
  });

  it.each([
    ['a string', 'boom'],
    ['null', null],
    ['an object', { status: 400, message: 'fake' }],
    ['a TypeError', new TypeError('x is undefined')],
  ])('%s becomes the same 500', (_label, thrown) => {
    const out = errorBody(thrown);
    expect(out.status).toBe(500);
    expect(out.body.error.code).toBe('internal_error');
    expect(JSON.stringify(out)).not.toMatch(/boom|fake|x is undefined/);
  });
});

describe('loggedMessage: an upstream text in a log line below debug', () => {
  const X = UPSTREAM_TEXT_AT_DEBUG;
  it('is replaced where switchyard quotes it (whole, or after ": " up to the end or "; "), and kept at debug', () => {
    const m = 'upstream failed on every attempt (2); last: status 500: upstream answered 500: bad input "my prompt"; the stream had begun';
    expect(loggedMessage(m, 'bad input "my prompt"', false)).toBe(
      `upstream failed on every attempt (2); last: status 500: upstream answered 500: ${X}; the stream had begun`,
    );
    expect(loggedMessage(m, 'bad input "my prompt"', true)).toBe(m);
    expect(loggedMessage('bad input "my prompt"', 'bad input "my prompt"', false)).toBe(X);
    expect(loggedMessage('upstream error in stream: oops', 'oops', false)).toBe(`upstream error in stream: ${X}`);
  });

  it("leaves switchyard's own words that happen to be the upstream's text (a short one: 'error', 'upstream')", () => {
    expect(loggedMessage('upstream answered 500: upstream', 'upstream', false)).toBe(`upstream answered 500: ${X}`);
    expect(loggedMessage('upstream answered 500: error; an error before', 'error', false)).toBe(`upstream answered 500: ${X}; an error before`);
    // What an adapter says of an empty body is switchyard's own.
    expect(loggedMessage('upstream answered 500: upstream status 500', 'upstream status 500', false)).toBe('upstream answered 500: upstream status 500');
  });
});
