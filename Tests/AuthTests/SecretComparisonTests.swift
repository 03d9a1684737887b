import Auth
import Testing

@Suite struct SecretComparisonTests {
    @Test(arguments: [
        ("secret", "secret", true),
        ("secret", "secreT", false),
        ("secret", "secret2", false),
        ("secret2", "secret", false),
        ("", "", true),
        ("", "x", false),
        ("x", "", false),
    ])
    func comparesWholeSecrets(given: String, expected: String, equal: Bool) {
        #expect(constantTimeEquals(given, expected) == equal)
        #expect(constantTimeEquals(Array(given.utf8), Array(expected.utf8)) == equal)
    }
}
