"""Development items: where a ticket handed to development is worked on (Azure DevOps
Boards, a Jira development project), read and linked back through each provider's API."""
