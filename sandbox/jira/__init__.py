"""The local Jira: REST API server, its data, JQL, request checks, response shapes, ADF."""
