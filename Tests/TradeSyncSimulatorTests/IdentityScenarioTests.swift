import Testing
import TradeSyncClock
import TradeSyncLog
import TradeSyncSimulator

/// The identity scenarios of issue 5: (g) amnesia guard after a restore from backup,
/// (h) fork detection after a clone. A failure names the seed.
@Suite struct IdentityScenarioTests {
    @Test("Sim: (g) restored from an older backup: writes refused until its own entries are pulled back; nothing lost, no fork", arguments: [UInt64(7), 70])
    func restoreFromBackup(seed: UInt64) throws {
        let report: ScenarioReport
        do { report = try Scenarios.restoreFromBackup(seed: seed) } catch {
            Issue.record("seed \(seed): \(error)"); return
        }
        let context: Comment = "seed \(seed): \(report)"
        #expect(report["heldAfterRestore"] == 5, context)
        #expect(report["guardClaimed"] == 8 && report["guardHeld"] == 5, context)
        #expect(report["refused"] == 1 && report["heldAtRefusal"] == 5, context)
        let refusal = try #require(report.text("refusal"), context)
        #expect(refusal.contains("holds its own entries up to seq 5") && refusal.contains("holds up to seq 8"), context)
        #expect(refusal.contains("restored from an older backup") && refusal.contains("seqs 6…8"), context)
        #expect(report["guardCleared"] == 1 && report["heldAfterPull"] == 8, context)
        #expect(report["nextSeq"] == 9 && report["nextCoversPulled"] == 1, context)
        #expect(report["siblingsMax"] == 1, context)
        #expect(report["forks"] == 0 && report["quarantined"] == 0, context)
        #expect(report["converged"] == 1, context)
        #expect(report.entry("lost8")?.dot.seq == 8 && report.entry("next")?.key == report.entry("lost8")?.key, context)
    }

    @Test("Sim: (h) a cloned node and its original write the same dot and meet a third node: evidence kept, origin quarantined, others still served", arguments: [UInt64(8), 80])
    func cloneMeetsThird(seed: UInt64) throws {
        let report: ScenarioReport
        do { report = try Scenarios.cloneMeetsThird(seed: seed) } catch {
            Issue.record("seed \(seed): \(error)"); return
        }
        let context: Comment = "seed \(seed): \(report)"
        let original = try #require(report.entry("original"), context)
        let clone = try #require(report.entry("clone"), context)
        #expect(original.dot == clone.dot && original.dot.seq == 4, context)
        #expect(original != clone, context)
        #expect(report["forkSeq"] == 4 && report["forkOrigin"] == 1, context)
        // Node 2 got the original first; the clone got it from node 2 and holds its own.
        #expect(report["evidenceAt2"] == 1 && report["evidenceAt1"] == 1, context)
        let atThird = try #require(report.evidence.first, context)
        #expect(atThird.dot == original.dot && atThird.held == original && atThird.received == clone, context)
        let atClone = try #require(report.evidence.last, context)
        #expect(atClone.dot == original.dot && atClone.held == clone && atClone.received == original, context)
        #expect(try ForkEvidence.decode(atThird.encoded()) == atThird, context)
        #expect(report["quarantinedAt0"] == 0 && report["quarantinedAt1"] == 1, context)
        #expect(report["quarantinedAt2"] == 1 && report["quarantinedAt3"] == 0, context)
        #expect(report["cloneWriteRefused"] == 1, context)
        #expect(report.text("refusal")?.contains("\(original.dot)") == true, context)
        // The original's seq 5 reached node 2 and was skipped: it stops there. (The clone's
        // copy of seq 4, sent again once the clone got node 2's copy back, is skipped too.)
        #expect(report["originNextAt0"] == 1 && (report["skippedAt2"] ?? 0) >= 1, context)
        #expect(report["originSeqAt2"] == 4 && report["originSeqAt3"] == 4, context)
        #expect(report["othersServed"] == 4, context)
        #expect(report["forks"] == 2, context)
        #expect(report["quarantinedAfterRestart"] == 1, context)
    }
}
