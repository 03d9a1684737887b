import Auth
import Foundation
import Synchronization
import Testing

/// kill -9 of the agent while pushes arrive: every restart finds a saved token that verifies and is
/// the last one answered 200, or one pushed after it whose answer the kill cut off (saved, then
/// killed before answering). Never an older one, never a corrupt one.
@Suite struct CrashSafetyTests {
    static let privateKey = "ed25519private:MC4CAQAwBQYDK2VwBCIEIBq+BhDRYk8OJv1ksMwKtf0td5p3FGwypXq96gHKefGS:reqYEklgP4"
    static let publicKey = "ed25519public:MCowBQYDK2VwAyEAw7eTEuEH0+TfgtX3zB+JZVnYD0eskY6qn3n7ZCA7wWM=:reqYEklgP4"

    /// Every token of the run counts up from one moment, so token n is the same whenever it is made.
    static let base = Int(Date().timeIntervalSince1970) - 100_000

    static func token(_ number: Int) throws -> String {
        try JWT.sign(
            [
                "iat": .number(Double(base + number)),
                "etchaPattern": .object([
                    "entrypoint": .string("/main.jsonnet"),
                    "files": .object([
                        "/main.jsonnet": .string("{run: [{id: 'n\(number)', always: true, change: 'true'}]}")
                    ]),
                ]),
            ], with: try PrivateKey(parsing: privateKey))
    }

    @Test func killNineAtRandomMomentsNeverLosesOrCorruptsState() throws {
        let scratch = Scratch()
        scratch.write(
            "etcha.json",
            """
            {"run": {"verifyKeys": ["\(Self.publicKey)"], "stateDir": "\(scratch.path)/state"},
             "exec": {"command": "/bin/sh -c"}, "httpServer": {"listenAddress": "127.0.0.1:0", "rateLimitRate": "100000-M"},
             "sources": {"web": {"allowPush": true}}}
            """)
        let key = try PublicKey(parsing: Self.publicKey)
        var number = 0
        var lastAnswered: String?
        // Tokens pushed since the last 200 whose answers never arrived: any may have been saved.
        var unanswered: [String] = []
        var generator = SystemRandomNumberGenerator()
        for round in 0..<50 {
            let agent = try Binary.start(["run"], in: scratch.path, environment: [:])
            defer { agent.stop() }
            let port = Binary.port(of: agent)
            #expect(!port.isEmpty, "round \(round): \(agent.stderr)")
            // The restored state is the last push answered 200, or the one that was in flight.
            let saved = (try? String(contentsOfFile: "\(scratch.path)/state/web.jwt", encoding: .utf8)) ?? nil
            if let lastAnswered {
                let current = try #require(saved, "round \(round): no state")
                #expect(throws: Never.self) { try JWT.verify(current, keys: [key]) }
                func iat(_ token: String?) -> Int? {
                    guard let token, let verified = try? JWT.verify(token, keys: [key]) else { return nil }
                    return verified.time("iat").map { $0 - Self.base }
                }
                #expect(
                    current == lastAnswered || unanswered.contains(current),
                    "round \(round): saved \(iat(current) ?? -1), last answered \(iat(lastAnswered) ?? -1), unanswered \(unanswered.compactMap(iat))"
                )
            }
            // Push until a random moment, then kill -9.
            let killAt = Date().addingTimeInterval(Double(UInt64.random(in: 50...400, using: &generator)) / 1000)
            let killed = Atomic<Bool>(false)
            let pid = agent.process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + killAt.timeIntervalSinceNow) {
                killed.store(true, ordering: .relaxed)
                kill(pid, SIGKILL)
            }
            while !killed.load(ordering: .relaxed) {
                number += 1
                let token = try Self.token(number)
                let file = scratch.write("push.jwt", token)
                let curl = Process()
                curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
                curl.arguments = [
                    "-sk", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", "--data-binary", "@\(file)",
                    "https://127.0.0.1:\(port)/etcha/v1/push/web",
                ]
                let pipe = Pipe()
                curl.standardOutput = pipe
                curl.standardError = FileHandle.nullDevice
                try curl.run()
                let status = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                curl.waitUntilExit()
                if status == "200" {
                    lastAnswered = token
                    unanswered = []
                } else {
                    unanswered.append(token)
                }
            }
            _ = Binary.wait(for: agent, timeout: 5)
        }
        #expect(lastAnswered != nil)
        // Each restart removes what a kill left half-written; only the last kill's can remain.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "\(scratch.path)/state").filter {
            $0.contains(".tmp-")
        }
        #expect(leftovers.count <= 1)
    }
}
