// The loop the micro-benchmarks share (bench/hot-metrics.ts, bench/projection.ts): each variant runs
// `calls` times a round, the first round warms up, and the median of the other rounds is reported.

/** Median nanoseconds a call of each variant, over `rounds - 1` rounds after one to warm up. */
export function measure(variants: Record<string, () => void>, calls: number, rounds: number): Record<string, number> {
  const results: Record<string, number[]> = {}
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(variants)) {
      const started = process.hrtime.bigint()
      run()
      const nanos = Number(process.hrtime.bigint() - started) / calls
      if (round > 0) (results[name] ??= []).push(nanos) // the first round warms up
    }
  }
  return Object.fromEntries(Object.entries(results).map(([name, runs]) => [name, runs.sort((left, right) => left - right)[runs.length >> 1]!]))
}
