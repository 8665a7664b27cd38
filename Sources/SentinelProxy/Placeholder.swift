// SentinelProxy
