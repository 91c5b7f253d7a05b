"""Jira Cloud and Data Center: the connector, JQL, paging, field mapping, comments, errors.

Imported only when a Jira source is opened, so a ServiceNow-only install never loads the
jira library."""
