// `sentinel bench integrity` as a script would use it: --json with the original's fields.

import Foundation
import SentinelTestSupport
import Testing

@Suite("sentinel bench integrity")
struct BenchCommandTests {
    @Test func jsonHasTheBaselineAndOneRunPerInterval() throws {
        let outcome = try ChildProcess.run(ProxyCommandTests.binary, ["bench", "integrity", "--iterations", "2", "--json"], timeout: 120)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any])
        let baseline = try #require(object["baseline_seconds"] as? Double)
        #expect(baseline > 0)
        let runs = try #require(object["runs"] as? [[String: Any]])
        #expect(runs.compactMap { $0["interval_ms"] as? Double } == [0, 50, 250, 1000])
        for run in runs {
            let seconds = try #require(run["seconds"] as? Double)
            let ratio = try #require(run["ratio"] as? Double)
            #expect(run["sample_rate"] as? Double == 0)
            #expect(abs(ratio - seconds / baseline) < 1e-9)
        }
    }

    @Test func zeroIterationsIsAUsageError() throws {
        let outcome = try ChildProcess.run(ProxyCommandTests.binary, ["bench", "integrity", "--iterations", "0"])
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("positive"))
    }
}
