import Foundation
import Testing

/// Tokens in the formats Etcha builds, made by `Tokens/make_tokens.py` (Python, independent of the
/// agent) and committed: each is pushed to a live agent and must run, with its run variables,
/// imports, `etchaRunEnv` and `runEnv`.
@Suite struct EtchaTokenTests {
    static let tokens = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Tokens")

    @Test func tokensOfBothEtchaVersionsRun() throws {
        let scratch = Scratch()
        scratch.write(
            "agent.json",
            """
            {"run": {"verifyKeys": ["ed25519public:MCowBQYDK2VwAyEAw7eTEuEH0+TfgtX3zB+JZVnYD0eskY6qn3n7ZCA7wWM=:reqYEklgP4"],
                     "stateDir": "\(scratch.path)/state"},
             "exec": {"env": {"DIR": "\(scratch.path)"}},
             "httpServer": {"listenAddress": "127.0.0.1:0"}, "sources": {"fleet": {"allowPush": true}}}
            """)
        let agent = try Binary.start(["-c", "agent.json", "run"], in: scratch.path, environment: [:])
        defer { agent.stop() }
        let port = Binary.port(of: agent)
        for (file, line) in [
            ("etcha-v2024.04.jwt", "hello from 2024 fleet"), ("etcha-current.jwt", "hello now at build from runEnv"),
        ] {
            let pushed = try Binary.run(
                [
                    "-x", "httpClient_tlsSkipVerify=true", "push", "-h", "127.0.0.1:\(port)", "fleet",
                    Self.tokens.appendingPathComponent(file).path,
                ],
                in: scratch.path)
            #expect(pushed.status == 0, "\(file): \(pushed.stdout) \(pushed.stderr)")
            #expect(
                scratch.read("ran")?.hasSuffix(line + "\n") == true, "\(file): \(scratch.read("ran") ?? "nothing ran")")
        }
    }
}
