-- Vendor values that were NOT applied to golden contacts and need a person: confidence below
-- var('er_enrichment_min_confidence'), an email shared by two golden contacts, or a conflict with a
-- human-verified field (kept for audit; never applied).
select
    enrichment_field_id,
    golden_contact_id,
    field_name,
    value as proposed_value,
    vendor,
    confidence,
    observed_at,
    disposition as reason
from {{ ref('int_enrichment__contact_candidates') }}
where disposition in ('review_low_confidence', 'review_ambiguous_email', 'blocked_human_verified')
