import Auth

/// JSON values (configuration trees, rendered patterns, JWT claims) are Auth's, which both modules need.
public typealias JSON = Auth.JSON
