// The `sentinel-isolate` executable: the seed's command name, the same as `sentinel isolate`.
// It links only what isolation needs (SentinelIsolateCLI) and never starts the concurrency
// runtime, so it stays single-threaded and starts fast.
import SentinelIsolateCLI
import SentinelSandbox

// First: the hidden sandbox stage, when this process is one (see SandboxStage).
SandboxStage.runIfRequested()
IsolateEntry.main()
