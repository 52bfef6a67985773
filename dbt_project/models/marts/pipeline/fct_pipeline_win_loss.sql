-- Win/loss by deal tier and source (W14): closed deals, won and lost, win rate and amounts — with the deals.
select
    deal_tier,
    source,
    count(*) as closed_deals,
    count(*) filter (where is_won) as won,
    count(*) filter (where is_lost) as lost,
    round(count(*) filter (where is_won) / count(*), 4) as win_rate,
    coalesce(sum(amount) filter (where is_won), 0) as won_amount,
    coalesce(sum(amount) filter (where is_lost), 0) as lost_amount,
    list(deal_id order by deal_id) filter (where is_won) as won_deal_ids,
    list(deal_id order by deal_id) filter (where is_lost) as lost_deal_ids
from {{ ref('fct_pipeline_deals') }}
where is_won or is_lost
group by deal_tier, source
