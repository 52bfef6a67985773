"""Reverse ETL: score fields and approved actions to the CRM; the sync log back to the warehouse."""
