-- Open pipeline by stage and owner (W14): count and amount of open deals, with the deals they are made of.
select
    stage,
    coalesce(owner, '(no owner)') as owner,
    count(*) as open_deals,
    coalesce(sum(amount), 0) as open_amount,
    count(*) filter (where amount is null) as deals_without_amount,
    list(deal_id order by deal_id) as deal_ids,
    any_value(as_of) as as_of
from {{ ref('fct_pipeline_deals') }}
where is_open
group by all
