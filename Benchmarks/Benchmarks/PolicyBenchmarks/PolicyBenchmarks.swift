import Benchmark
import SentinelPolicy

let benchmarks: @Sendable () -> Void = {
    Benchmark("Verdict construction (placeholder until the evaluators land)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(Verdict.allow(rule: "allowed_paths[0]", reason: "inside the workspace"))
        }
    }
}
