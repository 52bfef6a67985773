-- Every outcome and safety metric per workflow, segment (a lead tier, a sequence id, else 'all') and period (grain
-- 'day' or 'week', Monday start), from the units in fct_outcome_events: numerator and denominator counts, the rate,
-- and for time metrics the median hours (docs/outcomes.md "Metrics"). A metric split into segments (lead tiers,
-- sequences) also has segment 'all': every segment together. A period with no unit has no row.
{%- for grain in ['day', 'week'] %}
{%- for rollup in [false, true] %}
select
    metric,
    workflow,
    {{ "'all'" if rollup else 'segment' }} as segment,
    '{{ grain }}' as grain,
    cast(date_trunc('{{ grain }}', cohort_at) as date) as period_start,
    count(*) filter (where in_numerator) as numerator,
    count(*) as denominator,
    round(count(*) filter (where in_numerator) / count(*), 6) as rate,
    round(median(hours), 3) as median_hours
from {{ ref('fct_outcome_events') }}
{%- if rollup %}
where segment <> 'all'
{%- endif %}
group by all
{%- if not (rollup and grain == 'week') %}

union all
{% endif %}
{%- endfor %}
{%- endfor %}
