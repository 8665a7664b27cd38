// SentinelCLI
