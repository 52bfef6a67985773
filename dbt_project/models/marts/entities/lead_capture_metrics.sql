-- Lead capture by source: volumes per status and the share of leads with a valid company domain and a
-- company mapped to a golden account (workflow 1 done metric).
select
    lead_source,
    count(*) as leads,
    count(*) filter (where lead_status = 'accepted') as accepted,
    count(*) filter (where lead_status = 'rejected') as rejected,
    count(*) filter (where lead_status = 'quarantined') as quarantined,
    round(avg(case when company_domain is not null and not is_free_mail and not is_disposable then 1 else 0 end), 4)
        as pct_valid_domain,
    round(avg(case when mapped_account_id is not null then 1 else 0 end), 4) as pct_mapped_company,
    round(avg(case when company_domain is not null and mapped_account_id is not null then 1 else 0 end), 4)
        as pct_valid_domain_and_mapped_company
from {{ ref('int_leads__classified') }}
group by lead_source
order by lead_source
