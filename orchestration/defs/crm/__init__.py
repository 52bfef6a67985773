"""CRM API ingestion: pull contacts, companies and deals from the configured CRM into the raw tables."""
