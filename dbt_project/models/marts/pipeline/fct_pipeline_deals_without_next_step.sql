-- Open deals without a next step (W14; CRM hygiene flags read it too): no meeting scheduled after the as-of
-- moment and no open task on the deal, its contacts or its company — with what else the deal is missing.
select
    deal_id,
    deal_name,
    owner,
    stage,
    amount,
    close_date,
    created_at,
    missing_close_date,
    missing_amount,
    missing_primary_contact,
    date_diff('day', created_at, as_of) as days_open,
    as_of
from {{ ref('fct_pipeline_deals') }}
where is_open and not has_next_step
