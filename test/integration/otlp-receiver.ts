/**
 * An in-process OTLP/HTTP trace receiver (JSON encoding, as @opentelemetry/exporter-trace-otlp-http
 * sends it): decodes every exported span with its attributes flattened.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  /** The span's W3C tracestate as exported ('' when none). */
  traceState: string;
  name: string;
  kind: number;
  status: { code?: number; message?: string };
  attributes: Record<string, string | number | boolean | Array<string | number | boolean>>;
  resource: Record<string, string | number | boolean | Array<string | number | boolean>>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
}
type Scalar = string | number | boolean;
interface OtlpKv {
  key: string;
  value: OtlpValue;
}

const scalar = (v: OtlpValue): Scalar => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.boolValue ?? '';
/** A scalar, or an array attribute's values (`gen_ai.response.finish_reasons`). */
const value = (v: OtlpValue): Scalar | Scalar[] => (v.arrayValue ? (v.arrayValue.values ?? []).map(scalar) : scalar(v));
const flat = (kvs: OtlpKv[] | undefined): Record<string, Scalar | Scalar[]> => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, value(kv.value)]));

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as {
          resourceSpans?: Array<{ resource?: { attributes?: OtlpKv[] }; scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }> }>;
        };
        for (const rs of body.resourceSpans ?? []) {
          const resource = flat(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              this.spans.push({
                traceId: String(s.traceId),
                spanId: String(s.spanId),
                parentSpanId: String(s.parentSpanId ?? ''),
                traceState: String(s.traceState ?? ''),
                name: String(s.name),
                kind: Number(s.kind),
                status: (s.status ?? {}) as ReceivedSpan['status'],
                attributes: flat(s.attributes as OtlpKv[]),
                resource,
              });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/traces`;
  }

  /** Waits (bounded) until a span matches. */
  async waitFor(pred: (s: ReceivedSpan) => boolean, timeoutMs = 10_000): Promise<ReceivedSpan> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const s = this.spans.find(pred);
      if (s) return s;
      if (Date.now() > until) throw new Error(`no matching span within ${timeoutMs} ms; got ${this.spans.map((x) => x.name).join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
