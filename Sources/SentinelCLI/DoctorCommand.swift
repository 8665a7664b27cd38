public import ArgumentParser

/// `sentinel doctor`: what this kernel offers the sandbox.
public struct DoctorCommand: AsyncParsableCommand {
    /// Creates the command.
    public init() {}
    /// The command's name and help.
    public static let configuration = CommandConfiguration(commandName: "doctor", abstract: "Check what this kernel offers the sandbox.")
    /// Runs the checks.
    public mutating func run() async throws {}
}
