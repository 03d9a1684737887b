import EtchaJSON

/// A boolean expression over JWT claims (`run.jwtRule`, a source's `jwtRule`), a subset of the
/// expr language Etcha uses: `==`, `!=`, `in` (list membership or object key), `&&`, `||`, `!`,
/// parentheses; operands are claim names (dotted for nested objects: `etchaRunVars.env`), string
/// literals in single or double quotes, numbers, `true`, `false`, `null` and lists `[a, b]`.
///
///     let rule = try JWTRule(parsing: "iss == 'ci' && ('prod' in aud || sub != 'test')")
///     rule.allows(claims)
public struct JWTRule: Sendable {
    indirect enum Node: Sendable {
        case literal(JSON)
        case claim([String])
        case list([Node])
        case not(Node)
        case and(Node, Node)
        case or(Node, Node)
        case equal(Node, Node)
        case notEqual(Node, Node)
        case member(Node, Node)
    }

    let root: Node
    /// The rule as written.
    public let text: String

    /// Parses a rule; an error says where it stops making sense.
    public init(parsing text: String) throws(JWTError) {
        var parser = Parser(tokens: try Self.tokenize(text))
        root = try parser.expression()
        guard parser.atEnd else { throw JWTError("jwtRule: unexpected \(parser.peek.map { "\($0)" } ?? "end")") }
        self.text = text
    }

    /// Whether the rule holds for `claims`; anything but `true` (a non-boolean result, a missing
    /// claim compared to something) does not.
    public func allows(_ claims: [String: JSON]) -> Bool {
        evaluate(root, claims) == .bool(true)
    }

    private func evaluate(_ node: Node, _ claims: [String: JSON]) -> JSON {
        switch node {
        case .literal(let value): return value
        case .claim(let path):
            var value: JSON? = .object(claims)
            for key in path { value = value?.object?[key] }
            return value ?? .null
        case .list(let items): return .array(items.map { evaluate($0, claims) })
        case .not(let inner):
            guard case .bool(let value) = evaluate(inner, claims) else { return .null }
            return .bool(!value)
        case .and(let left, let right):
            guard case .bool(true) = evaluate(left, claims) else { return .bool(false) }
            return evaluate(right, claims) == .bool(true) ? .bool(true) : .bool(false)
        case .or(let left, let right):
            if case .bool(true) = evaluate(left, claims) { return .bool(true) }
            return evaluate(right, claims) == .bool(true) ? .bool(true) : .bool(false)
        case .equal(let left, let right): return .bool(evaluate(left, claims) == evaluate(right, claims))
        case .notEqual(let left, let right): return .bool(evaluate(left, claims) != evaluate(right, claims))
        case .member(let left, let right):
            let needle = evaluate(left, claims)
            switch evaluate(right, claims) {
            case .array(let items): return .bool(items.contains(needle))
            case .object(let members): return .bool(needle.string.map { members[$0] != nil } ?? false)
            default: return .bool(false)
            }
        }
    }

    enum Token: Equatable, CustomStringConvertible {
        case word(String), string(String), number(Double), symbol(String)

        var description: String {
            switch self {
            case .word(let text), .symbol(let text): "\"\(text)\""
            case .string(let text): "'\(text)'"
            case .number(let value): "\(value)"
            }
        }
    }

    static func tokenize(_ text: String) throws(JWTError) -> [Token] {
        var tokens: [Token] = []
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character.isWhitespace {
                index = text.index(after: index)
            } else if character == "'" || character == "\"" {
                var value = ""
                var cursor = text.index(after: index)
                while cursor < text.endIndex, text[cursor] != character {
                    if text[cursor] == "\\", text.index(after: cursor) < text.endIndex {
                        cursor = text.index(after: cursor)
                    }
                    value.append(text[cursor])
                    cursor = text.index(after: cursor)
                }
                guard cursor < text.endIndex else { throw JWTError("jwtRule: unterminated string") }
                tokens.append(.string(value))
                index = text.index(after: cursor)
            } else if character.isNumber
                || (character == "-" && text.index(after: index) < text.endIndex
                    && text[text.index(after: index)].isNumber)
            {
                var end = text.index(after: index)
                while end < text.endIndex, text[end].isNumber || text[end] == "." { end = text.index(after: end) }
                guard let number = Double(text[index..<end]) else {
                    throw JWTError("jwtRule: bad number \(text[index..<end])")
                }
                tokens.append(.number(number))
                index = end
            } else if character.isLetter || character == "_" {
                var end = index
                while end < text.endIndex,
                    text[end].isLetter || text[end].isNumber || text[end] == "_" || text[end] == "."
                {
                    end = text.index(after: end)
                }
                tokens.append(.word(String(text[index..<end])))
                index = end
            } else {
                let two = text[index...].prefix(2)
                if ["==", "!=", "&&", "||"].contains(two) {
                    tokens.append(.symbol(String(two)))
                    index = text.index(index, offsetBy: 2)
                } else if "()[],!".contains(character) {
                    tokens.append(.symbol(String(character)))
                    index = text.index(after: index)
                } else {
                    throw JWTError("jwtRule: unexpected character \"\(character)\"")
                }
            }
        }
        return tokens
    }

    struct Parser {
        var tokens: [Token]
        var position = 0

        var atEnd: Bool { position >= tokens.count }
        var peek: Token? { atEnd ? nil : tokens[position] }

        mutating func take(_ symbol: String) -> Bool {
            guard peek == .symbol(symbol) else { return false }
            position += 1
            return true
        }

        mutating func expression() throws(JWTError) -> Node {
            var node = try conjunction()
            while take("||") { node = .or(node, try conjunction()) }
            return node
        }

        mutating func conjunction() throws(JWTError) -> Node {
            var node = try unary()
            while take("&&") { node = .and(node, try unary()) }
            return node
        }

        mutating func unary() throws(JWTError) -> Node {
            if take("!") { return .not(try unary()) }
            let left = try primary()
            if take("==") { return .equal(left, try primary()) }
            if take("!=") { return .notEqual(left, try primary()) }
            if peek == .word("in") {
                position += 1
                return .member(left, try primary())
            }
            return left
        }

        mutating func primary() throws(JWTError) -> Node {
            guard let token = peek else { throw JWTError("jwtRule: ends too early") }
            position += 1
            switch token {
            case .symbol("("):
                let node = try expression()
                guard take(")") else { throw JWTError("jwtRule: missing )") }
                return node
            case .symbol("["):
                var items: [Node] = []
                if take("]") { return .list(items) }
                repeat { items.append(try expression()) } while take(",")
                guard take("]") else { throw JWTError("jwtRule: missing ]") }
                return .list(items)
            case .string(let value): return .literal(.string(value))
            case .number(let value): return .literal(.number(value))
            case .word("true"): return .literal(.bool(true))
            case .word("false"): return .literal(.bool(false))
            case .word("null"): return .literal(.null)
            case .word(let name) where name != "in":
                return .claim(name.split(separator: ".").map(String.init))
            default:
                throw JWTError("jwtRule: unexpected \(token)")
            }
        }
    }
}
