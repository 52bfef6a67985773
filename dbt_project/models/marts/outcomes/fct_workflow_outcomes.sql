-- Every outcome and safety metric per workflow, segment (a lead tier, a sequence id, else 'all') and period (grain
-- 'day' or 'week', Monday start), from the units in fct_outcome_events: numerator and denominator counts, the rate,
-- and for time metrics the median hours (docs/outcomes.md "Metrics"). A metric split into segments (lead tiers,
-- sequences) also has segment 'all': every segment together. A period with no unit has no row.
-- One pass over the units (8M rows at 1M contacts), not one per grain and rollup: the counts per segment and day add
-- up to every other grain and rollup. A median does not add up, so it is taken per grain and rollup from the units
-- that have hours (time metrics only, a small share of the rows); a group with none has a null median, as before.
-- A unit's day is the cast of cohort_at to a date (the session's time zone, as date_trunc's), ~2x cheaper than
-- date_trunc('day', ...) on a timestamp with time zone; its week is the Monday of that day.
-- `units` is read twice (the counts, the timed units): not materialized, so DuckDB scans the table twice (the second
-- scan filtered on hours) rather than buffering every unit first.
with units as not materialized (
    select metric, workflow, segment, cohort_at, in_numerator, hours
    from {{ ref('fct_outcome_events') }}
),

daily_counts as materialized (
    select
        metric,
        workflow,
        segment,
        cast(cohort_at as date) as day_start,
        count(*) filter (where in_numerator) as numerator,
        count(*) as denominator
    from units
    group by all
),

timed_units as materialized (
    select metric, workflow, segment, cast(cohort_at as date) as day_start, hours
    from units
    where hours is not null
),

{%- for grain in ['day', 'week'] %}
{%- for rollup in [false, true] %}
{%- set name = grain ~ ('_all' if rollup else '_by_segment') %}
{%- set period_start = 'day_start' if grain == 'day' else "cast(date_trunc('week', day_start) as date)" %}

{{ name }}_counts as (
    select
        metric,
        workflow,
        {{ "'all'" if rollup else 'segment' }} as segment,
        {{ period_start }} as period_start,
        cast(sum(numerator) as bigint) as numerator,
        cast(sum(denominator) as bigint) as denominator
    from daily_counts
    {%- if rollup %}
    where segment <> 'all'
    {%- endif %}
    group by all
),

{{ name }}_medians as (
    select
        metric,
        workflow,
        {{ "'all'" if rollup else 'segment' }} as segment,
        {{ period_start }} as period_start,
        round(median(hours), 3) as median_hours
    from timed_units
    {%- if rollup %}
    where segment <> 'all'
    {%- endif %}
    group by all
),
{%- endfor %}
{%- endfor %}

periods as (
{%- for grain in ['day', 'week'] %}
{%- for rollup in [false, true] %}
{%- set name = grain ~ ('_all' if rollup else '_by_segment') %}
    select
        c.metric,
        c.workflow,
        c.segment,
        '{{ grain }}' as grain,
        c.period_start,
        c.numerator,
        c.denominator,
        round(c.numerator / c.denominator, 6) as rate,
        m.median_hours
    from {{ name }}_counts as c
    left join {{ name }}_medians as m
        on m.metric is not distinct from c.metric and m.workflow is not distinct from c.workflow
        and m.segment is not distinct from c.segment and m.period_start is not distinct from c.period_start
{%- if not (rollup and grain == 'week') %}

    union all
{% endif %}
{%- endfor %}
{%- endfor %}
)

select * from periods
