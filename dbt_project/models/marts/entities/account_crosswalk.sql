-- Every HubSpot company record -> its golden account id and the rule that placed it there. Built from the
-- staging table so a lost record shows up with a NULL golden id (rejected by the golden gate).
select
    'hubspot' as source_system,
    s.company_id as source_record_id,
    x.golden_account_id,
    x.registrable_domain,
    x.account_domain,
    x.match_rule,
    count(*) over (partition by x.golden_account_id) as cluster_size
from {{ ref('stg_hubspot__companies') }} as s
left join {{ ref('int_entities__company_records') }} as x on x.record_id = s.company_id
