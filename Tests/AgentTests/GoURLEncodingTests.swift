import Testing

@testable import Agent

/// `ETCHA_WEBHOOK_QUERY` and header names as Go's `url.Values.Encode` and
/// `textproto.CanonicalMIMEHeaderKey` write them, the strings Etcha's commands see.
@Suite struct GoURLEncodingTests {
    @Test(arguments: [
        ("", ""),
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&b=1&a=1", "a=2&a=1&b=1"),
        ("flag", "flag="),
        ("a=%20x+y", "a=+x+y"),
        ("q=a%2Fb%3Dc&&", "q=a%2Fb%3Dc"),
        ("bad=%zz&ok=1", "ok=1"),
        ("bad=%4&ok=1", "ok=1"),
        ("semi=1;x=2&ok=1", "ok=1"),
        ("k=caf%C3%A9", "k=caf%C3%A9"),
        ("k=café", "k=caf%C3%A9"),
        ("k=a-b_c.d~e*f", "k=a-b_c.d~e%2Af"),
        ("Z=1&a=1&_=1", "Z=1&_=1&a=1"),
        ("=v", "=v"),
    ])
    func queriesAreDecodedSortedAndEncodedAgain(raw: String, encoded: String) {
        #expect(GoURLEncoding.query(raw) == encoded)
    }

    @Test(arguments: [
        ("x-my-header", "X-My-Header"),
        ("CONTENT-TYPE", "Content-Type"),
        ("content-length", "Content-Length"),
        ("x--a", "X--A"),
        ("x_under-score", "X_under-Score"),
        ("1st-thing", "1st-Thing"),
        ("bad header", "bad header"),
    ])
    func headerNamesAreCanonical(name: String, canonical: String) {
        #expect(GoURLEncoding.headerName(name) == canonical)
    }
}

extension GoURLEncodingTests {
    @Test func aValueIsDecodedAsGoDecodesIt() {
        #expect(GoURLEncoding.value(of: "filter", inQuery: "check&filter=web+%3E+role") == "web > role")
        #expect(GoURLEncoding.value(of: "filter", inQuery: "filter=%zz&filter=a") == "a")
        #expect(GoURLEncoding.value(of: "filter", inQuery: "check") == nil)
        #expect(GoURLEncoding.queryComponent("web > a+b/c") == "web+%3E+a%2Bb%2Fc")
    }
}
