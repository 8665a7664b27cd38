// The `sentinel` executable. Everything happens in SentinelCLI; this file only dispatches.
import SentinelCLI

await CommandLineEntry.sentinel()
