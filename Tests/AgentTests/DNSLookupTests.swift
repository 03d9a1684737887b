import EtchaJSON
import Foundation
import Testing

@testable import Agent

/// `getRecord`'s `TXT` and `CNAME` lookups against a real nameserver: a small Python one on
/// loopback, answering over UDP and TCP from a fixed zone.
@Suite struct DNSLookupTests {
    /// The zone: a TXT record split into two strings plus another record; a TXT answer too long
    /// for UDP (truncated there, whole over TCP); a CNAME chain ending at an address; a TXT
    /// record only reachable through the search list. Every other name is NXDOMAIN. Owner names
    /// in answers are compression pointers to the question.
    static let server = #"""
        import socket, struct, threading, sys

        def name_bytes(name):
            return b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"

        def txt(*strings):
            return (16, b"".join(bytes([len(s)]) + s.encode() for s in strings))

        ZONE = {
            ("txt.example.test.", 16): [txt("ed25519public:", "AAAkey"), txt("v=other")],
            ("big.example.test.", 16): [txt("a" * 200, "b" * 200, "c" * 200)],
            ("node.search.test.", 16): [txt("found through the search list")],
            ("host.example.test.", 1): [(1, bytes([192, 0, 2, 1]))],
        }
        ALIASES = {"www.example.test.": "web.example.test.", "web.example.test.": "host.example.test."}

        def answer(query, tcp):
            ident, = struct.unpack(">H", query[:2])
            labels, i = [], 12
            while query[i]:
                labels.append(query[i + 1:i + 1 + query[i]].decode()); i += 1 + query[i]
            qtype, = struct.unpack(">H", query[i + 1:i + 3])
            question = query[12:i + 5]
            name = ".".join(labels).lower() + "."
            records, owner = [], None
            while name in ALIASES:
                target = ALIASES[name]
                records.append((owner, 5, name_bytes(target))); owner, name = target, target
            records += [(owner, t, data) for t, data in ZONE.get((name, qtype), [])]
            known = records or any(key[0] == name for key in ZONE)
            flags = 0x8180 if known else 0x8183
            if name == "big.example.test." and not tcp:
                flags, records = flags | 0x0200, []
            out = struct.pack(">HHHHHH", ident, flags, 1, len(records), 0, 0) + question
            for owner, t, data in records:
                out += (b"\xc0\x0c" if owner is None else name_bytes(owner))
                out += struct.pack(">HHIH", t, 1, 60, len(data)) + data
            return out

        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(("127.0.0.1", 0)); tcp.listen(8)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", tcp.getsockname()[1]))
        print(tcp.getsockname()[1], flush=True)

        def serve_tcp():
            while True:
                conn, _ = tcp.accept()
                with conn:
                    length, = struct.unpack(">H", conn.recv(2, socket.MSG_WAITALL))
                    reply = answer(conn.recv(length, socket.MSG_WAITALL), True)
                    conn.sendall(struct.pack(">H", len(reply)) + reply)

        threading.Thread(target=serve_tcp, daemon=True).start()
        while True:
            query, peer = udp.recvfrom(512)
            udp.sendto(answer(query, False), peer)
        """#

    final class Nameserver {
        let process = Process()
        let port: UInt16

        init() throws {
            let script = FileManager.default.temporaryDirectory.appendingPathComponent("dns-\(UUID().uuidString).py")
            try DNSLookupTests.server.write(to: script, atomically: true, encoding: .utf8)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [script.path]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            var line = Data()
            while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8)
            {
                line += byte
            }
            try? FileManager.default.removeItem(at: script)
            port = UInt16(String(decoding: line, as: UTF8.self)) ?? 0
        }

        var lookup: DNSLookup { DNSLookup(nameservers: [.init(address: "127.0.0.1", port: port)]) }

        /// SIGKILL: the test's threads block SIGTERM, and a child started from them inherits that.
        deinit {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    @Test func txtRecordsJoinTheirStringsAndAreSorted() throws {
        let server = try Nameserver()
        #expect(try server.lookup.txt("txt.example.test") == ["ed25519public:AAAkey", "v=other"])
        #expect(try server.lookup.txt("TXT.example.test.") == ["ed25519public:AAAkey", "v=other"])
    }

    @Test func aTruncatedAnswerIsAskedAgainOverTCP() throws {
        let server = try Nameserver()
        #expect(
            try server.lookup.txt("big.example.test") == [
                String(repeating: "a", count: 200) + String(repeating: "b", count: 200)
                    + String(repeating: "c", count: 200)
            ])
    }

    @Test func cnameFollowsTheChainToTheCanonicalName() throws {
        let server = try Nameserver()
        #expect(try server.lookup.cname("www.example.test") == "host.example.test.")
        #expect(try server.lookup.cname("host.example.test") == "host.example.test.")
    }

    @Test func missingNamesAndUnreachableServersFail() throws {
        let server = try Nameserver()
        #expect(throws: DNSLookup.Failure.notFound("missing.example.test")) {
            try server.lookup.txt("missing.example.test")
        }
        // A name that exists without TXT records.
        #expect(throws: DNSLookup.Failure.notFound("host.example.test")) { try server.lookup.txt("host.example.test") }
        var silent = DNSLookup(nameservers: [.init(address: "127.0.0.1", port: UInt16(Self.closedPort()))])
        silent.timeout = 1
        let started = Date()
        #expect {
            try silent.txt("txt.example.test")
        } throws: { error in
            guard case DNSLookup.Failure.unanswered = error else { return false }
            return true
        }
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test func theSearchListAndNdotsOrderTheNamesAsked() throws {
        let server = try Nameserver()
        var lookup = server.lookup
        lookup.search = ["search.test"]
        #expect(try lookup.txt("node") == ["found through the search list"])
        #expect(lookup.candidates("node") == ["node.search.test.", "node."])
        #expect(lookup.candidates("a.b") == ["a.b.", "a.b.search.test."])
        #expect(lookup.candidates("a.b.") == ["a.b."])
        lookup.ndots = 3
        #expect(lookup.candidates("a.b") == ["a.b.search.test.", "a.b."])
    }

    @Test func resolvConfIsReadWithItsOptionsCapped() {
        let lookup = DNSLookup(
            configuration: """
                # comment
                nameserver 10.0.0.1
                nameserver ::1
                search one.test two.test
                options ndots:2 timeout:30 attempts:9 rotate
                """)
        #expect(lookup.nameservers == [.init(address: "10.0.0.1"), .init(address: "::1")])
        #expect(lookup.search == ["one.test", "two.test"])
        #expect(lookup.ndots == 2 && lookup.timeout == 5 && lookup.attempts == 2)
    }

    /// `getRecord` in a pattern: Etcha's types, its fallback, and `MX` unknown as in Etcha's code.
    @Test func getRecordAnswersTXTAndCNAME() throws {
        let server = try Nameserver()
        var natives = NativeFunctions(config: .null)
        natives.resolver = server.lookup
        func evaluate(_ call: String) throws -> JSON {
            try JSON(
                parsing: Jsonnet.evaluate(
                    snippet: call, filename: "/p/main.jsonnet", natives: natives, importer: Jsonnet.Importer(files: [:])
                ).output)
        }
        #expect(
            try evaluate("std.native('getRecord')('TXT', 'txt.example.test', null)")
                == .array(["ed25519public:AAAkey", "v=other"]))
        #expect(
            try evaluate("std.native('getRecord')('cname', 'www.example.test', null)") == .array(["host.example.test."])
        )
        #expect(try evaluate("std.native('getRecord')('TXT', 'missing.example.test', 'none')") == .string("none"))
        do {
            _ = try evaluate("std.native('getRecord')('TXT', 'missing.example.test', null)")
            Issue.record("a missing record without a fallback rendered")
        } catch {
            #expect("\(error)".contains("no TXT record for missing.example.test"), "\(error)")
        }
        do {
            _ = try evaluate("std.native('getRecord')('MX', 'example.test', 'x')")
            Issue.record("MX rendered")
        } catch {
            #expect("\(error)".contains("unknown type: mx"), "\(error)")
        }
    }

    /// A loopback UDP port with nothing bound to it.
    static func closedPort() -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length)
                return getsockname(socket, $0, &length)
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
