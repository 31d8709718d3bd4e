// Preloaded into a sidecar by bench/memory.ts (node --import): on SIGUSR2 it writes where the
// process's memory is — process.memoryUsage(), V8's heap spaces — to $MEMPROBE_OUT as JSON.
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import { PerformanceObserver, constants } from 'node:perf_hooks';

// MEMPROBE_V8FLAGS: V8 flags set at run time before the program starts (what a bin could do).
if (process.env.MEMPROBE_V8FLAGS) v8.setFlagsFromString(process.env.MEMPROBE_V8FLAGS);
const out = process.env.MEMPROBE_OUT;
if (out) {
  // Garbage collections by kind since start: count and main-thread pause, ms.
  const gc = {};
  const kinds = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const k = kinds[e.detail?.kind] ?? String(e.detail?.kind);
      const g = (gc[k] ??= { count: 0, ms: 0 });
      g.count++;
      g.ms += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  process.on('SIGUSR2', () => {
    const mb = (x) => Math.round((x / 1048576) * 10) / 10;
    const mu = process.memoryUsage();
    const hs = v8.getHeapStatistics();
    const spaces = Object.fromEntries(
      v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: mb(s.space_size), used: mb(s.space_used_size), physical: mb(s.physical_space_size) }]),
    );
    writeFileSync(
      out,
      JSON.stringify({
        memoryUsage: Object.fromEntries(Object.entries(mu).map(([k, v]) => [k, mb(v)])),
        heap: {
          total: mb(hs.total_heap_size),
          physical: mb(hs.total_physical_size),
          used: mb(hs.used_heap_size),
          malloced: mb(hs.malloced_memory),
          peakMalloced: mb(hs.peak_malloced_memory),
          external: mb(hs.external_memory),
        },
        spaces,
        gc: Object.fromEntries(Object.entries(gc).map(([k, v]) => [k, { count: v.count, ms: Math.round(v.ms) }])),
      }),
    );
  });
}
