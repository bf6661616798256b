"""FastAGI: the threaded server, the port over AGI commands, and recorded speech answers."""
