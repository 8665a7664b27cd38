import ArgumentParser
import Foundation
import SentinelPolicy

/// `sentinel policy`: check, fingerprint, explain and create `sentinel.yaml`.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Validate, hash, explain or create a sentinel.yaml policy, or suggest additions from audit logs.",
        subcommands: [Validate.self, Hash.self, Explain.self, Init.self, Suggest.self]
    )
}

/// Options every policy subcommand shares.
struct PolicyOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The policy file (default: ./sentinel.yaml; builtin:default for the built-in policy).",
            discussion: "When SENTINEL_POLICY_CONTENT is set, its text is the policy and this option is ignored, as in the original."
        )
    )
    var policy: String?

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false
}

/// Exit statuses of `sentinel policy`.
enum PolicyExit {
    static let allow: Int32 = 0
    static let error: Int32 = 2
    static let deny: Int32 = 3
}

extension PolicyCommand {
    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a policy: exit 0 when it is valid, 2 when it is not (the reason on stderr).",
            discussion: "Loads the policy as every Sentinel command does (integrity variables included), then compiles it for this machine (path roots, command names), so every problem a run would meet is reported now."
        )

        @OptionGroup var options: PolicyOptions

        func run() async throws {
            let loaded: LoadedPolicy
            let policy: Policy
            do {
                loaded = try PolicyLoader().load(path: options.policy)
                policy = try Policy(loaded: loaded)
            } catch {
                report(error, json: options.json)
                throw ExitCode(PolicyExit.error)
            }
            let warnings = loaded.warnings + policy.warnings
            if options.json {
                printJSON([
                    "valid": true,
                    "policy": loaded.source.description,
                    "sha256": loaded.sha256,
                    "signature_mode": loaded.signatureMode.rawValue,
                    "warnings": warnings.map { warningJSON($0) },
                ])
            } else {
                for warning in warnings { printError(warning.description) }
                print("\(loaded.source.description): valid (SHA-256 \(loaded.sha256))")
            }
        }
    }

    struct Hash: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the SHA-256 that SENTINEL_POLICY_SHA256 must hold for this policy.",
            discussion: "The digest is over the UTF-8 text with CRLF and CR folded to LF, as the original computed it. With --hmac, prints the HMAC-SHA256 for SENTINEL_POLICY_HMAC_SHA256 using the key in SENTINEL_POLICY_HMAC_KEY."
        )

        @OptionGroup var options: PolicyOptions

        @Flag(name: .long, help: "Print the HMAC-SHA256 keyed with SENTINEL_POLICY_HMAC_KEY instead.")
        var hmac = false

        func run() async throws {
            let source: PolicySourceKind
            let text: String
            do {
                (source, text) = try PolicyLoader().readSource(path: options.policy)
            } catch {
                report(error, json: options.json)
                throw ExitCode(PolicyExit.error)
            }
            let digest: String
            if hmac {
                guard let key = ProcessInfo.processInfo.environment["SENTINEL_POLICY_HMAC_KEY"], !key.isEmpty else {
                    printError("error: --hmac needs the key in SENTINEL_POLICY_HMAC_KEY.")
                    throw ExitCode(PolicyExit.error)
                }
                digest = PolicyIntegrity.hmacHex(of: text, key: key)
            } else {
                digest = PolicyIntegrity.sha256Hex(of: text)
            }
            if options.json {
                printJSON(["policy": source.description, hmac ? "hmac_sha256" : "sha256": digest])
            } else {
                print(digest)
            }
        }
    }

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a commented starter sentinel.yaml (the built-in default policy)."
        )

        @Argument(help: "Where to write it.")
        var path = "sentinel.yaml"

        @Flag(name: .long, help: "Replace an existing file.")
        var force = false

        func run() async throws {
            let url = URL(fileURLWithPath: path)
            if FileManager.default.fileExists(atPath: url.path) && !force {
                printError("error: \(path) already exists; pass --force to replace it.")
                throw ExitCode(PolicyExit.error)
            }
            do {
                try Data(DefaultPolicy.text.utf8).write(to: url)
            } catch {
                printError("error: cannot write \(path): \(error.localizedDescription)")
                throw ExitCode(PolicyExit.error)
            }
            print("wrote \(path) — check it with `sentinel policy validate --policy \(path)`")
        }
    }
}

// MARK: - Output

/// Writes a line to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Prints one JSON object (keys sorted, so output is stable for scripts and tests).
func printJSON(_ object: [String: Any]) {
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
        printError("error: cannot encode the result as JSON.")
        return
    }
    print(String(decoding: data, as: UTF8.self))
}

/// Reports a failure as text on stderr, or as `{"valid": false, "error": …}` on stdout.
func report(_ error: any Error, json: Bool) {
    if json {
        var object: [String: Any] = ["message": String(describing: error)]
        if let policyError = error as? PolicyError {
            object = errorJSON(policyError)
        }
        printJSON(["valid": false, "error": object])
    } else {
        printError("error: \(error)")
    }
}

func errorJSON(_ error: PolicyError) -> [String: Any] {
    var object: [String: Any] = ["code": error.code.description, "message": error.message]
    if let location = error.location {
        object["file"] = location.file
        if location.line > 0 {
            object["line"] = location.line
            object["column"] = location.column
        }
    }
    if let keyPath = error.keyPath { object["key"] = keyPath }
    if let hint = error.hint { object["hint"] = hint }
    return object
}

func warningJSON(_ warning: PolicyWarning) -> [String: Any] {
    var object: [String: Any] = ["key": warning.keyPath, "message": warning.message]
    if let location = warning.location, location.line > 0 {
        object["line"] = location.line
        object["column"] = location.column
    }
    return object
}
