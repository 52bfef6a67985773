"""Local stand-ins for real CRMs: a HubSpot-compatible sandbox server and a Salesforce test server."""
