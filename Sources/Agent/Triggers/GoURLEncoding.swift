/// Queries and header names as Go's `net/url` and `net/http`, which Etcha uses, read and write
/// them: for `ETCHA_WEBHOOK_QUERY` and `ETCHA_WEBHOOK_HEADERS`, so that commands written for Etcha
/// read the same strings here, and for a push's `?filter`.
enum GoURLEncoding {
    /// The query decoded (``pairs(_:)``) and encoded again: the keys sorted bytewise, each value kept
    /// in order, and every byte but letters, digits and `-_.~` escaped (a space as `+`).
    static func query(_ raw: String) -> String {
        var values: [[UInt8]: [[UInt8]]] = [:]
        for (key, value) in pairs(raw) { values[key, default: []].append(value) }
        var encoded: [UInt8] = []
        for key in values.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            for value in values[key] ?? [] {
                if !encoded.isEmpty { encoded.append(UInt8(ascii: "&")) }
                escape(key, into: &encoded)
                encoded.append(UInt8(ascii: "="))
                escape(value, into: &encoded)
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    /// The first value of `name` in `raw`, decoded as Go's `url.ParseQuery` decodes it (`+` is a
    /// space); nil when absent.
    static func value(of name: String, inQuery raw: String) -> String? {
        let key = Array(name.utf8)
        return pairs(raw).first { $0.key == key }.map { String(decoding: $0.value, as: UTF8.self) }
    }

    /// The decoded pairs of `raw`, in order, as Go's `url.ParseQuery` reads them: `&`-separated,
    /// `+` and `%XX` decoded, and a pair with a `;` or a bad escape dropped.
    private static func pairs(_ raw: String) -> [(key: [UInt8], value: [UInt8])] {
        Array(raw.utf8).split(separator: UInt8(ascii: "&")).compactMap { pair in
            guard !pair.contains(UInt8(ascii: ";")) else { return nil }
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = unescape(parts[0]), let value = unescape(parts.count > 1 ? parts[1] : []) else {
                return nil
            }
            return (key, value)
        }
    }

    /// `text` escaped for a query, as Go's `url.QueryEscape` escapes it.
    static func queryComponent(_ text: String) -> String {
        var encoded: [UInt8] = []
        escape(Array(text.utf8), into: &encoded)
        return String(decoding: encoded, as: UTF8.self)
    }

    /// A header name in canonical form (`x-my-header` → `X-My-Header`): the first letter and each
    /// letter after `-` in upper case, the rest in lower case. A name with a byte outside HTTP's
    /// token characters is kept as it is.
    static func headerName(_ name: String) -> String {
        guard name.utf8.allSatisfy(isTokenByte) else { return name }
        var upper = true
        var result: [UInt8] = []
        result.reserveCapacity(name.utf8.count)
        for byte in name.utf8 {
            var byte = byte
            if upper, byte >= UInt8(ascii: "a"), byte <= UInt8(ascii: "z") { byte -= 32 }
            if !upper, byte >= UInt8(ascii: "A"), byte <= UInt8(ascii: "Z") { byte += 32 }
            result.append(byte)
            upper = byte == UInt8(ascii: "-")
        }
        return String(decoding: result, as: UTF8.self)
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    private static func unescape(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        var result: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "%"):
                guard index + 2 < bytes.endIndex, let high = hexValue(bytes[index + 1]),
                    let low = hexValue(bytes[index + 2])
                else { return nil }
                result.append(high << 4 | low)
                index += 3
            case UInt8(ascii: "+"):
                result.append(UInt8(ascii: " "))
                index += 1
            default:
                result.append(byte)
                index += 1
            }
        }
        return result
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func escape(_ bytes: [UInt8], into output: inout [UInt8]) {
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                output.append(byte)
            case UInt8(ascii: " "):
                output.append(UInt8(ascii: "+"))
            default:
                output += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
    }
}
