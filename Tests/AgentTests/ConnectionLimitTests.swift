import Foundation
import Testing

@testable import Agent

/// The listener's connection limits, live: one client cannot take the listener from the others,
/// and past the total, connections wait instead of being served or refused.
@Suite(.serialized) struct ConnectionLimitTests {
    /// Python that holds TLS connections to `port`, each from a given loopback address, and prints
    /// one line per step. `steps` is Python code run with `hold(source)` (opens a connection and
    /// asks for health; returns it, or None when no answer came within `wait` seconds) and `out`.
    static func python(port: Int, _ steps: String) -> String {
        #"""
        timeout 60 python3 -c '
        import socket, ssl
        context = ssl.create_default_context(); context.check_hostname = False; context.verify_mode = ssl.CERT_NONE
        def hold(source, wait=3):
            try:
                raw = socket.create_connection(("127.0.0.1", \#(port)), timeout=wait, source_address=(source, 0))
                tls = context.wrap_socket(raw)
                tls.sendall(b"GET /etcha/v1/system/health HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = tls.recv(4096)
                return tls if answer.startswith(b"HTTP/1.1 200") else None
            except OSError:
                return None
        lines = []
        def out(text): lines.append(str(text))
        \#(steps)
        print("\n".join(lines))
        '
        """#
    }

    @Test func oneClientCannotTakeTheConnectionsOfAnother() async throws {
        let agent = try await LiveAgent.start(#"{"httpServer": {"maxConnectionsPerClient": 4}}"#)
        defer { Task { await agent.stop() } }
        let script = Self.python(
            port: agent.port,
            """
            held = [hold("127.0.0.1") for _ in range(8)]
            out(sum(1 for c in held if c))
            out("other " + ("answered" if hold("127.0.0.2") else "refused"))
            for c in held:
                if c: c.close()
            import time; time.sleep(0.5)
            again = [hold("127.0.0.1") for _ in range(4)]
            out(sum(1 for c in again if c))
            """)
        let result = try await shell(script)
        #expect(result.output == "4\nother answered\n4\n", "\(result.output)")
    }

    @Test func pastTheTotalNewConnectionsWaitUntilOneCloses() async throws {
        let agent = try await LiveAgent.start(
            #"{"httpServer": {"maxConnections": 3, "maxConnectionsPerClient": 100}}"#)
        defer { Task { await agent.stop() } }
        let script = Self.python(
            port: agent.port,
            """
            held = [hold("127.0.0.1") for _ in range(3)]
            out(sum(1 for c in held if c))
            out("fourth " + ("answered" if hold("127.0.0.2", wait=1.5) else "waited"))
            held[0].close()
            out("after a close " + ("answered" if hold("127.0.0.2", wait=10) else "waited"))
            """)
        let result = try await shell(script)
        #expect(result.output == "3\nfourth waited\nafter a close answered\n", "\(result.output)")
    }

    @Test func theTotalIsLoweredToWhatTheDescriptorLimitLeaves() throws {
        var server = try ConfigLoader(path: nil, environment: [:]).load(json: Data("{}".utf8)).config.httpServer
        server.maxConnections = 1 << 30
        let limits = ConnectionLimits(server, trustedProxies: [], logger: quietLogger)
        #expect(limits.total == max(16, ConnectionLimits.descriptorLimit() - ConnectionLimits.reservedDescriptors))
        #expect(limits.perClient.limit == 32)
    }
}
