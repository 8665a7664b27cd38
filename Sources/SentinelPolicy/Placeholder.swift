// SentinelPolicy
