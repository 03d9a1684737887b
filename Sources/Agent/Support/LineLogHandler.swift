import EtchaJSON
import Glibc
import Logging

/// How log lines are written: logfmt (`level=info msg="…" source=web`, the default, as Etcha
/// writes them), one JSON object per line, Etcha's `human` (`INFO  msg source=web`) or Etcha's
/// `raw` (the message alone).
public enum LogFormat: String, Sendable, CaseIterable {
    case logfmt
    case json
    case human
    case raw

    /// The format a name gives: a case's name, or Etcha's `kv` for logfmt.
    public init?(named name: String) {
        self.init(rawValue: name == "kv" ? "logfmt" : name)
    }
}

/// The lowest level logged (swift-log's names), or nothing at all (Etcha's `none`).
public enum LogThreshold: Sendable, Equatable {
    case level(Logger.Level)
    case none

    /// The threshold a name gives; nil for an unknown name.
    public init?(named name: String) {
        if name == "none" {
            self = .none
        } else if let level = Logger.Level(rawValue: name) {
            self = .level(level)
        } else {
            return nil
        }
    }
}

/// A `LogHandler` writing one line per entry to standard error, in a ``LogFormat``. Metadata keys
/// are written sorted, after `level` and `msg`. Secrets never reach it: callers log names, not values.
public struct LineLogHandler: LogHandler {
    /// The line format.
    public var format: LogFormat
    /// Entries below this level are dropped.
    public var logLevel: Logger.Level = .info
    /// Metadata on every entry.
    public var metadata: Logger.Metadata = [:]

    /// Drops every entry (the `none` threshold).
    public var silent = false

    /// Makes a handler.
    public init(format: LogFormat, level: Logger.Level = .info) {
        self.format = format
        self.logLevel = level
    }

    /// Makes a handler logging from `threshold` up.
    public init(format: LogFormat, threshold: LogThreshold) {
        switch threshold {
        case .level(let level): self.init(format: format, level: level)
        case .none:
            self.init(format: format, level: .critical)
            silent = true
        }
    }

    /// Reads or sets one metadata key.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one entry as one `write(2)` to standard error (so lines from several threads do not
    /// interleave); a line that cannot be written is dropped, never an error of its caller.
    public func log(event: LogEvent) {
        if silent { return }
        let line = self.line(for: event)
        line.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }

    /// The entry's line, newline included. Built as bytes: an entry is written for every command a
    /// webhook runs, and building it through string interpolation and dictionary merges costs more
    /// than the `write(2)` (docs/decisions.md, "Log lines built as bytes and written with one
    /// write").
    func line(for event: LogEvent) -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(256)
        let fields = Self.fields(metadata, event.metadata)
        switch format {
        case .logfmt:
            line.append(contentsOf: "level=".utf8)
            line.append(contentsOf: event.level.rawValue.utf8)
            line.append(contentsOf: " msg=".utf8)
            Self.appendLogfmt(event.message.description, to: &line)
            Self.appendPairs(fields, to: &line)
        case .human:
            let level = event.level.rawValue.uppercased()
            line.append(contentsOf: level.utf8)
            line.append(contentsOf: repeatElement(UInt8(ascii: " "), count: max(1, 6 - level.utf8.count)))
            line.append(contentsOf: event.message.description.utf8)
            Self.appendPairs(fields, to: &line)
        case .raw:
            line.append(contentsOf: event.message.description.utf8)
        case .json:
            var object: [String: JSON] = [
                "level": .string(event.level.rawValue), "msg": .string(event.message.description),
            ]
            for (key, value) in fields { object[key] = .string(value.description) }
            line.append(contentsOf: JSON.object(object).text.utf8)
        }
        line.append(UInt8(ascii: "\n"))
        return line
    }

    /// The handler's metadata with the entry's over it, sorted by key.
    private static func fields(_ base: Logger.Metadata, _ extra: Logger.Metadata?) -> [(String, Logger.MetadataValue)] {
        var fields = base.map { ($0.key, $0.value) }
        for (key, value) in extra ?? [:] {
            if let index = fields.firstIndex(where: { $0.0 == key }) {
                fields[index].1 = value
            } else {
                fields.append((key, value))
            }
        }
        fields.sort { $0.0 < $1.0 }
        return fields
    }

    /// Appends ` key=value` for each field, values as logfmt writes them.
    private static func appendPairs(_ fields: [(String, Logger.MetadataValue)], to line: inout [UInt8]) {
        for (key, value) in fields {
            line.append(UInt8(ascii: " "))
            line.append(contentsOf: key.utf8)
            line.append(UInt8(ascii: "="))
            appendLogfmt(value.description, to: &line)
        }
    }

    /// Appends `value` bare when it is printable ASCII without a space, quote, `=` or backslash,
    /// else quoted.
    private static func appendLogfmt(_ value: String, to line: inout [UInt8]) {
        let plain =
            !value.isEmpty
            && !value.utf8.contains {
                $0 <= 0x20 || $0 >= 0x7f || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "=")
                    || $0 == UInt8(ascii: "\\")
            }
        // A JSON string is a valid quoted logfmt value, and also escapes other control characters.
        if plain {
            line.append(contentsOf: value.utf8)
        } else {
            line.append(contentsOf: JSON.string(value).text.utf8)
        }
    }
}
