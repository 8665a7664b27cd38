// SentinelAudit
