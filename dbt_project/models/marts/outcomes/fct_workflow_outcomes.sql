-- Every outcome and safety metric per workflow, segment (a sequence id, else 'all') and period (grain 'day' or
-- 'week', Monday start), from the units in fct_outcome_events: numerator and denominator counts, the rate, and
-- for time metrics the median hours (docs/outcomes.md "Metrics"). A period with no unit has no row.
{%- for grain in ['day', 'week'] %}
select
    metric,
    workflow,
    segment,
    '{{ grain }}' as grain,
    cast(date_trunc('{{ grain }}', cohort_at) as date) as period_start,
    count(*) filter (where in_numerator) as numerator,
    count(*) as denominator,
    round(count(*) filter (where in_numerator) / count(*), 6) as rate,
    round(median(hours), 3) as median_hours
from {{ ref('fct_outcome_events') }}
group by all
{%- if not loop.last %}

union all
{% endif %}
{%- endfor %}
