-- Pipeline created per week (W14): deals created in each ISO week (Monday start), their amount and how many of
-- them are still open, won or lost — with the deals they are made of.
select
    created_week,
    count(*) as deals_created,
    coalesce(sum(amount), 0) as amount_created,
    count(*) filter (where is_open) as still_open,
    count(*) filter (where is_won) as won,
    count(*) filter (where is_lost) as lost,
    list(deal_id order by deal_id) as deal_ids
from {{ ref('fct_pipeline_deals') }}
where created_week is not null
group by created_week
