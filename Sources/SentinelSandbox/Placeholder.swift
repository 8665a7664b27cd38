// SentinelSandbox
