// SentinelGuard
