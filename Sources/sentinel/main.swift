// The `sentinel` executable. Everything happens in SentinelCLI; this file only dispatches.
import SentinelCLI
import SentinelSandbox

// First, before anything async starts a thread: the hidden sandbox stage (see SandboxStage).
SandboxStage.runIfRequested()
await CommandLineEntry.sentinel()
