"""ServiceNow: the Table API connector and its authentication."""
