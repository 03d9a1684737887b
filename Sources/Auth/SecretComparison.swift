/// Compares two secrets in time that depends only on their lengths, never on where they differ.
///
/// Use it for every comparison of a secret an attacker can probe (the metrics key, webhook
/// signatures): an early exit would let them guess the secret one byte at a time.
///
///     guard constantTimeEquals(Array(given.utf8), Array(expected.utf8)) else { return .forbidden }
public func constantTimeEquals(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
    // Walk the expected secret in full whatever the given length, so timing does not leak its length
    // bit by bit either; a length difference is folded into the result.
    var difference = UInt64(truncatingIfNeeded: lhs.count ^ rhs.count)
    var left = lhs.makeIterator()
    for right in rhs {
        let byte = left.next() ?? 0
        difference |= UInt64(byte ^ right)
    }
    return difference == 0
}

/// String form of ``constantTimeEquals(_:_:)-(some Collection<UInt8>, some Collection<UInt8>)``,
/// comparing the UTF-8 bytes.
public func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
    constantTimeEquals(Array(lhs.utf8), Array(rhs.utf8))
}
