import Foundation
import Testing

/// Etcha's signing and verify commands, the way its OpenBao guide uses them, with OpenSSL holding
/// the key in place of a vault: `build.signingCommands` sign `ETCHA_PAYLOAD`, and a source's
/// `verifyCommands` check `ETCHA_JWT` and print it back through the `jwt` event.
@Suite struct SigningCommandTests {
    /// Shell helpers the commands share, base64url without padding and back, as lines indented
    /// by `indent` after the first (a Jsonnet text block keeps one indentation).
    private static func helpers(indent: Int) -> String {
        [
            "b64url() { basenc --base64url -w0 | tr -d =; }",
            #"unb64url() { local s=$1; while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done; printf %s "$s" | basenc --base64url -d; }"#,
        ].joined(separator: "\n" + String(repeating: " ", count: indent))
    }

    @Test func tokensSignedAndVerifiedByCommandsRunAndOthersDoNot() throws {
        let scratch = Scratch()
        let dir = scratch.path
        #expect(
            try Ecosystem.sh(
                "openssl genpkey -algorithm ed25519 -out key.pem && openssl pkey -in key.pem -pubout -out pub.pem",
                in: dir
            ).status == 0)
        let der = try Ecosystem.sh("openssl pkey -in key.pem -pubout -outform DER | base64 -w0", in: dir).output
        let publicKey = "ed25519public:\(der):hsm"

        scratch.write(
            "etcha.jsonnet",
            """
            {build: {signingCommands: [{id: 'sign', always: true, onChange: ['etcha:jwt'], change: |||
              \(Self.helpers(indent: 2))
              input="$(printf '{"alg":"EdDSA","kid":"hsm","typ":"JWT"}' | b64url).${ETCHA_PAYLOAD}"
              printf %s "$input" > \(dir)/input
              openssl pkeyutl -sign -inkey \(dir)/key.pem -rawin -in \(dir)/input -out \(dir)/sig
              printf '%s.%s' "$input" "$(b64url < \(dir)/sig)"
            |||}]}}
            """)
        scratch.write(
            "p.jsonnet",
            "{run: [{id: 'ran', always: true, change: 'echo ' + std.native('getConfig')().vars.source + ' >> \(dir)/ran'}]}"
        )
        let built = try Binary.run(["build", "p.jsonnet", "p.jwt"], in: dir)
        #expect(built.status == 0, "\(built.stderr)")
        let token = try #require(scratch.read("p.jwt")).trimmingCharacters(in: .whitespacesAndNewlines)

        // The verifier: OpenSSL checks ETCHA_JWT's signature, and the token is printed back.
        let verifier = """
            [{id: 'verify', always: true, onChange: ['etcha:jwt'], change: |||
              \(Self.helpers(indent: 2))
              header=${ETCHA_JWT%%.*}; rest=${ETCHA_JWT#*.}; payload=${rest%%.*}; sig=${rest#*.}
              printf '%s.%s' "$header" "$payload" > \(dir)/signed
              unb64url "$sig" > \(dir)/signature
              openssl pkeyutl -verify -pubin -inkey \(dir)/pub.pem -rawin -in \(dir)/signed -sigfile \(dir)/signature > /dev/null
              printf %s "$ETCHA_JWT"
            |||}]
            """
        scratch.write(
            "agent.jsonnet",
            """
            {run: {stateDir: '\(dir)/state', verifyKeys: ['\(publicKey)']},
             httpServer: {listenAddress: '127.0.0.1:0'},
             sources: {
               keyed: {allowPush: true},
               commanded: {allowPush: true, verifyCommands: \(verifier)},
               echoing: {allowPush: true, verifyCommands: [{id: 'other', always: true, onChange: ['etcha:jwt'], change: 'echo a.b.c'}]},
             }}
            """)
        let agent = try Binary.start(["-c", "agent.jsonnet", "run"], in: dir, environment: [:])
        defer { agent.stop() }
        let port = Binary.port(of: agent)
        func push(_ source: String, _ body: String) throws -> String {
            try Ecosystem.sh(
                "curl -sk -o /dev/null -w '%{http_code}' --data-binary @- https://127.0.0.1:\(port)/etcha/v1/push/\(source) <<'EOF'\n\(body)\nEOF"
            ).output
        }
        // The token the signing commands made verifies under the public key, and under the commands.
        #expect(try push("keyed", token) == "200")
        #expect(try push("commanded", token) == "200")
        #expect(scratch.read("ran") == "keyed\ncommanded\n")

        // A token whose signature does not verify, and a verifier that prints another token: refused.
        let parts = token.split(separator: ".")
        let forged = "\(parts[0]).\(parts[1]).\(String(parts[2].reversed()))"
        #expect(try push("commanded", forged) == "404")
        #expect(try push("echoing", token) == "404")
        #expect(scratch.read("ran") == "keyed\ncommanded\n")
        let log = agent.stderr
        #expect(log.contains("verifyCommands failed"))
        #expect(log.contains("verifyCommands printed a token other than the one given"))

        // `jwt` and `render` verify with run.verifyCommands too, with no verify key configured.
        scratch.write(
            "cli.jsonnet",
            """
            {run: {verifyCommands: \(verifier)}}
            """)
        let shown = try Binary.run(["-c", "cli.jsonnet", "jwt", "p.jwt"], in: dir)
        #expect(shown.status == 0 && shown.stderr.contains("verified by run.verifyCommands"), "\(shown.stderr)")
        let rendered = try Binary.run(["-c", "cli.jsonnet", "render", "p.jwt"], in: dir)
        #expect(rendered.status == 0 && rendered.stdout.contains(#""id" : "ran""#), "\(rendered.stderr)")
        scratch.write("forged.jwt", forged)
        #expect(try Binary.run(["-c", "cli.jsonnet", "jwt", "forged.jwt"], in: dir).status == 1)
        #expect(try Binary.run(["-c", "cli.jsonnet", "render", "forged.jwt"], in: dir).status != 0)
    }
}
