-- Stage velocity (W14): per stage, how long deals stayed in it before the next stage (or a close) was entered —
-- deals that have left the stage only; deals still in it are counted with their days so far, separately.
{%- set stages = ['appointment_scheduled', 'qualified_to_buy', 'presentation_scheduled',
                  'decision_maker_bought_in', 'contract_sent'] %}
with spells as (
    {%- for s in stages %}
    select
        deal_id,
        {{ loop.index }} as stage_order,
        '{{ s.replace('_', ' ') }}' as stage,
        {{ s }}_entered_at as entered_at,
        least(
            {%- for later in stages[loop.index:] %}
            {{ later }}_entered_at,
            {%- endfor %}
            closed_won_entered_at,
            closed_lost_entered_at
        ) as left_at,
        as_of
    from {{ ref('fct_pipeline_deals') }}
    where {{ s }}_entered_at is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    stage_order,
    stage,
    count(*) as deals_entered,
    count(left_at) as deals_moved_on,
    round(median(date_diff('hour', entered_at, left_at) / 24.0), 1) as median_days_in_stage,
    -- Whole hours summed exactly, divided once: an average of decimals depends on the order rows are added in, and
    -- a mean at exactly .x5 days would round either way between two builds of the same rows.
    round(sum(date_diff('hour', entered_at, left_at)) / (24.0 * count(left_at)), 1) as mean_days_in_stage,
    count(*) filter (where left_at is null) as deals_still_in_stage,
    round(median(date_diff('hour', entered_at, as_of) / 24.0) filter (where left_at is null), 1)
        as median_days_so_far,
    list(deal_id order by deal_id) filter (where left_at is not null) as moved_on_deal_ids,
    list(deal_id order by deal_id) filter (where left_at is null) as still_in_stage_deal_ids
from spells
group by stage_order, stage
