// SentinelApproval
