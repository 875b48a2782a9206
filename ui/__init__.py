"""The browser UI: server-rendered pages over the same services and access rules as the API."""
