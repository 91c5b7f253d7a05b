"""The local ServiceNow: Table API server, its data, query language and authentication."""
