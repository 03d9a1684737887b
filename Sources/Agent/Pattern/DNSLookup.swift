import Foundation

/// The `TXT` and `CNAME` lookups of `getRecord`, asked of the nameservers in `/etc/resolv.conf`
/// as Go's own resolver asks them for Etcha: over UDP, again over TCP when the answer comes back
/// truncated, with the search list and `ndots`, `timeout` and `attempts` options applied.
/// (`A` and `AAAA` go through `getaddrinfo`, which also reads `/etc/hosts`.)
struct DNSLookup: Sendable {
    struct Nameserver: Sendable, Equatable {
        var address: String
        var port: UInt16 = 53
    }

    enum Failure: Error, Equatable, CustomStringConvertible {
        /// The name does not exist or has no record of the type asked for.
        case notFound(String)
        /// No nameserver gave an answer.
        case unanswered(String)

        var description: String {
            switch self {
            case .notFound(let name): "lookup \(name): no such host"
            case .unanswered(let reason): reason
            }
        }
    }

    var nameservers: [Nameserver]
    var search: [String] = []
    var ndots = 1
    /// How long one question to one nameserver may take.
    var timeout: TimeInterval = 5
    /// How many rounds over the nameservers before giving up.
    var attempts = 2

    /// The system's configuration; without nameservers, the local one, as the C library does.
    static func system(path: String = "/etc/resolv.conf") -> DNSLookup {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var lookup = DNSLookup(configuration: text)
        if lookup.nameservers.isEmpty { lookup.nameservers = [Nameserver(address: "127.0.0.1")] }
        return lookup
    }

    /// Reads resolv.conf's `nameserver`, `search`/`domain` and `options` lines. Timeouts and
    /// attempts are capped (5 s, 2 rounds) so that one lookup cannot hold a render for long.
    init(configuration text: String) {
        nameservers = []
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let keyword = words.first, !keyword.hasPrefix("#"), !keyword.hasPrefix(";") else { continue }
            switch keyword {
            case "nameserver" where words.count > 1: nameservers.append(Nameserver(address: words[1]))
            case "search", "domain": search = Array(words.dropFirst())
            case "options":
                for option in words.dropFirst() {
                    let parts = option.split(separator: ":", maxSplits: 1).map(String.init)
                    guard parts.count == 2, let value = Int(parts[1]) else { continue }
                    switch parts[0] {
                    case "ndots": ndots = min(max(value, 0), 15)
                    case "timeout": timeout = TimeInterval(min(max(value, 1), 5))
                    case "attempts": attempts = min(max(value, 1), 2)
                    default: break
                    }
                }
            default: continue
            }
        }
    }

    init(nameservers: [Nameserver]) {
        self.nameservers = nameservers
    }

    /// The text of each `TXT` record of `name` (a record's strings joined, as Go joins them), sorted.
    func txt(_ name: String) throws -> [String] {
        let (answers, _) = try firstAnswered(name, types: [RecordType.txt])
        return answers.filter { $0.type == RecordType.txt }.map { Self.txtText($0.data) }.sorted()
    }

    /// The canonical name of `name`, with its final dot, as Go's `LookupCNAME` gives it: where the
    /// `CNAME` chain in the answer ends, or `name` itself when it has addresses and no alias.
    func cname(_ name: String) throws -> String {
        let (answers, asked) = try firstAnswered(name, types: [RecordType.a, RecordType.aaaa, RecordType.cname])
        var current = asked
        var seen: Set<String> = []
        while seen.insert(current.lowercased()).inserted,
            let alias = answers.first(where: {
                $0.type == RecordType.cname && $0.name.lowercased() == current.lowercased()
            })
        {
            current = alias.target ?? current
        }
        return current.hasSuffix(".") ? current : current + "."
    }

    enum RecordType {
        static let a: UInt16 = 1
        static let cname: UInt16 = 5
        static let txt: UInt16 = 16
        static let aaaa: UInt16 = 28
    }

    struct Record {
        var name: String
        var type: UInt16
        var data: [UInt8]
        /// A `CNAME`'s target, its compression pointers resolved against the whole message.
        var target: String?
    }

    /// The names to ask for `name`, in Go's order: as given when it is rooted or has `ndots`
    /// dots, then with each search domain, then as given when it had fewer dots.
    func candidates(_ name: String) -> [String] {
        if name.hasSuffix(".") { return [name] }
        let rooted = name + "."
        let searched = search.map { "\(name).\($0.hasSuffix(".") ? $0 : $0 + ".")" }
        let dots = name.filter { $0 == "." }.count
        return dots >= ndots ? [rooted] + searched : searched + [rooted]
    }

    /// The answer records of the first candidate name and type that has any, and the name asked.
    private func firstAnswered(_ name: String, types: [UInt16]) throws -> ([Record], String) {
        guard !name.isEmpty, name.utf8.count <= 253 else { throw Failure.notFound(name) }
        var lastFailure = Failure.notFound(name)
        for candidate in candidates(name) {
            for type in types {
                do {
                    let answers = try ask(candidate, type: type)
                    if !answers.isEmpty { return (answers, candidate) }
                } catch let failure as Failure {
                    if case .unanswered = failure { lastFailure = failure }
                }
            }
        }
        throw lastFailure
    }

    /// One question, to each nameserver in turn for each attempt, until one answers. An empty
    /// list is a name without such records; NXDOMAIN is ``Failure/notFound(_:)``.
    func ask(_ name: String, type: UInt16) throws -> [Record] {
        let id = UInt16.random(in: 0...UInt16.max)
        let query = try Self.query(name, type: type, id: id)
        var reason = "lookup \(name): no nameserver answered"
        for _ in 0..<max(attempts, 1) {
            for server in nameservers {
                guard var reply = Self.exchange(query, with: server, tcp: false, timeout: timeout) else { continue }
                if reply.count > 3, reply[2] & 0x02 != 0,
                    let full = Self.exchange(query, with: server, tcp: true, timeout: timeout)
                {
                    reply = full
                }
                do {
                    return try Self.answers(in: reply, id: id, name: name, type: type)
                } catch Failure.unanswered(let why) {
                    reason = why
                }
            }
        }
        throw Failure.unanswered(reason)
    }

    // MARK: - Messages

    static func query(_ name: String, type: UInt16, id: UInt16) throws -> [UInt8] {
        // ID, flags (recursion desired), one question.
        var message: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".", omittingEmptySubsequences: true) {
            let bytes = Array(label.utf8)
            guard !bytes.isEmpty, bytes.count <= 63 else { throw Failure.notFound(name) }
            message.append(UInt8(bytes.count))
            message += bytes
        }
        message += [0, UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
        return message
    }

    /// The answer section of a reply to `id`, or why the reply is not an answer.
    static func answers(in reply: [UInt8], id: UInt16, name: String, type: UInt16) throws -> [Record] {
        var reader = Reader(bytes: reply)
        guard let replyID = reader.u16(), replyID == id, let flags = reader.u16(), flags & 0x8000 != 0,
            let questions = reader.u16(), let answerCount = reader.u16(), reader.skip(4)
        else { throw Failure.unanswered("lookup \(name): a malformed reply") }
        switch flags & 0x000F {
        case 0: break
        case 3: throw Failure.notFound(name)
        default: throw Failure.unanswered("lookup \(name): the nameserver answered with error \(flags & 0x000F)")
        }
        for _ in 0..<questions {
            guard reader.name() != nil, reader.skip(4) else {
                throw Failure.unanswered("lookup \(name): a malformed reply")
            }
        }
        var records: [Record] = []
        for _ in 0..<answerCount {
            guard let owner = reader.name(), let recordType = reader.u16(), reader.skip(6), let length = reader.u16()
            else { throw Failure.unanswered("lookup \(name): a malformed reply") }
            let start = reader.offset
            guard let data = reader.take(Int(length)) else {
                throw Failure.unanswered("lookup \(name): a malformed reply")
            }
            var target: String?
            if recordType == RecordType.cname {
                var inner = Reader(bytes: reply, offset: start)
                target = inner.name()
            }
            records.append(Record(name: owner, type: recordType, data: data, target: target))
        }
        return records
    }

    /// A `TXT` record's character-strings, joined.
    static func txtText(_ data: [UInt8]) -> String {
        var bytes: [UInt8] = []
        var index = 0
        while index < data.count {
            let length = Int(data[index])
            let end = min(index + 1 + length, data.count)
            bytes += data[(index + 1)..<end]
            index = end
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func u16() -> UInt16? {
            guard offset + 2 <= bytes.count else { return nil }
            defer { offset += 2 }
            return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        }

        mutating func skip(_ count: Int) -> Bool {
            guard offset + count <= bytes.count else { return false }
            offset += count
            return true
        }

        mutating func take(_ count: Int) -> [UInt8]? {
            guard offset + count <= bytes.count else { return nil }
            defer { offset += count }
            return Array(bytes[offset..<(offset + count)])
        }

        /// A name, following compression pointers (at most 64, so a loop cannot hang it).
        mutating func name() -> String? {
            var labels: [String] = []
            var position = offset
            var jumped = false
            for _ in 0..<64 {
                guard position < bytes.count else { return nil }
                let length = Int(bytes[position])
                if length == 0 {
                    if !jumped { offset = position + 1 }
                    return labels.joined(separator: ".") + "."
                }
                if length & 0xC0 == 0xC0 {
                    guard position + 1 < bytes.count else { return nil }
                    if !jumped { offset = position + 2 }
                    jumped = true
                    position = (length & 0x3F) << 8 | Int(bytes[position + 1])
                    continue
                }
                guard position + 1 + length <= bytes.count else { return nil }
                labels.append(String(decoding: bytes[(position + 1)..<(position + 1 + length)], as: UTF8.self))
                position += 1 + length
            }
            return nil
        }
    }

    // MARK: - Sockets

    /// Sends `query` and returns the reply, or nil when the server cannot be reached in time.
    static func exchange(_ query: [UInt8], with server: Nameserver, tcp: Bool, timeout: TimeInterval) -> [UInt8]? {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST
        hints.ai_socktype = Int32(tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(server.address, String(server.port), &hints, &list) == 0, let info = list else { return nil }
        defer { freeaddrinfo(list) }
        let socket = Glibc.socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { return nil }
        defer { close(socket) }
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        guard connect(socket, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else { return nil }
        let deadline = Date().addingTimeInterval(timeout)
        if tcp {
            let framed = [UInt8(query.count >> 8), UInt8(query.count & 0xFF)] + query
            guard send(socket, framed, framed.count, Int32(MSG_NOSIGNAL)) == framed.count,
                let header = receive(socket, exactly: 2, until: deadline)
            else { return nil }
            return receive(socket, exactly: Int(header[0]) << 8 | Int(header[1]), until: deadline)
        }
        guard send(socket, query, query.count, 0) == query.count else { return nil }
        // Replies to another ID (a late answer to an earlier try) are read past.
        while Date() < deadline {
            var buffer = [UInt8](repeating: 0, count: 65_535)
            let count = recv(socket, &buffer, buffer.count, 0)
            guard count > 0 else { return nil }
            if count >= 2, buffer[0] == query[0], buffer[1] == query[1] { return Array(buffer[0..<count]) }
        }
        return nil
    }

    private static func receive(_ socket: Int32, exactly count: Int, until deadline: Date) -> [UInt8]? {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_535)
        while bytes.count < count, Date() < deadline {
            let read = recv(socket, &buffer, count - bytes.count, 0)
            guard read > 0 else { return nil }
            bytes += buffer[0..<read]
        }
        return bytes.count == count ? bytes : nil
    }
}
