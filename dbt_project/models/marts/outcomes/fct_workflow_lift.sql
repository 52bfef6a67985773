-- Lift per workflow and primary outcome (docs/outcomes.md "Lift"): the outcome rate of treated actions (sent) minus
-- that of held-out ones, with a 95% confidence interval by Newcombe's hybrid score method (Newcombe 1998, method
-- 10: Wilson score intervals of each rate, combined), the counts behind it and a sample-size note when the figure
-- should not be trusted yet. The counts are units (fct_lift_decisions.lift_unit: an account for saves, a person
-- otherwise), not actions: the interval assumes independent observations, and the actions of one unit share its
-- outcome (a target proposed on several days, two people of one account emailed about its renewal). A unit had the
-- outcome if any of its actions saw it in its window; its window is open while any of its actions' is. A unit with
-- actions in both groups (two leads of one person drawn apart) counts once in each.
{%- set z = 1.959963984540054 %}
with units as (
    select
        workflow,
        outcome,
        lift_group,
        coalesce(lift_unit, action_id) as lift_unit,
        max(window_days) as window_days,
        bool_or(had_outcome) as had_outcome,
        bool_or(window_open) as window_open
    from {{ ref('fct_lift_decisions') }}
    group by all
),

counts as (
    select
        workflow,
        outcome,
        max(window_days) as window_days,
        count(*) filter (where lift_group = 'treated') as treated_n,
        count(*) filter (where lift_group = 'treated' and had_outcome) as treated_outcomes,
        count(*) filter (where lift_group = 'held_out') as held_out_n,
        count(*) filter (where lift_group = 'held_out' and had_outcome) as held_out_outcomes,
        count(*) filter (where window_open) as windows_open
    from units
    group by workflow, outcome
),

rates as (
    select
        *,
        treated_outcomes / nullif(treated_n, 0) as p1,
        held_out_outcomes / nullif(held_out_n, 0) as p2
    from counts
),

-- Wilson score interval of each rate: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n).
wilson as (
    select
        *,
        (p1 + {{ z }}^2 / (2 * treated_n) - {{ z }} * sqrt(p1 * (1 - p1) / treated_n + {{ z }}^2 / (4 * treated_n^2)))
            / (1 + {{ z }}^2 / treated_n) as l1,
        (p1 + {{ z }}^2 / (2 * treated_n) + {{ z }} * sqrt(p1 * (1 - p1) / treated_n + {{ z }}^2 / (4 * treated_n^2)))
            / (1 + {{ z }}^2 / treated_n) as u1,
        (p2 + {{ z }}^2 / (2 * held_out_n) - {{ z }} * sqrt(p2 * (1 - p2) / held_out_n + {{ z }}^2 / (4 * held_out_n^2)))
            / (1 + {{ z }}^2 / held_out_n) as l2,
        (p2 + {{ z }}^2 / (2 * held_out_n) + {{ z }} * sqrt(p2 * (1 - p2) / held_out_n + {{ z }}^2 / (4 * held_out_n^2)))
            / (1 + {{ z }}^2 / held_out_n) as u2
    from rates
),

lift as (
    select
        *,
        p1 - p2 as d,
        p1 - p2 - sqrt((p1 - l1)^2 + (u2 - p2)^2) as d_low,
        p1 - p2 + sqrt((u1 - p1)^2 + (p2 - l2)^2) as d_high
    from wilson
)

select
    workflow,
    outcome,
    window_days,
    treated_n,
    treated_outcomes,
    round(p1, 6) as treated_rate,
    held_out_n,
    held_out_outcomes,
    round(p2, 6) as held_out_rate,
    round(d, 6) as lift,
    round(d_low, 6) as lift_ci_low,
    round(d_high, 6) as lift_ci_high,
    coalesce(d_low > 0 or d_high < 0, false) as is_significant,
    windows_open,
    case
        when treated_n = 0 or held_out_n = 0 then 'no ' || case when treated_n = 0 then 'treated' else 'held-out' end
            || ' actions yet: no lift'
        when least(treated_outcomes, held_out_outcomes) < {{ var('lift_min_outcomes') }}
            then 'too few outcomes: ' || least(treated_outcomes, held_out_outcomes)
                || ' in the smaller group (fewer than {{ var("lift_min_outcomes") }})'
        when d_high - d_low > {{ var('lift_max_ci_width') }}
            then 'wide interval: ' || round(d_high - d_low, 3) || ' (over {{ var("lift_max_ci_width") }})'
    end as sample_size_note
from lift
