// The `sentinel-isolate` executable: the seed's command name, the same as `sentinel isolate`.
import SentinelCLI
import SentinelSandbox

// First, before anything async starts a thread: the hidden sandbox stage (see SandboxStage).
SandboxStage.runIfRequested()
await CommandLineEntry.sentinelIsolate()
