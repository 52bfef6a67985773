{#- The moment the warehouse's data reaches: its latest email event, CRM activity or form lead (the planner's
    `actions.inputs.data_as_of` reads the same three). Verdicts and pipeline figures are "as of" this, not the
    wall clock, so a warehouse built from last week's export is judged as of last week. -#}
{% macro data_as_of() -%}
    greatest(
        (select max(occurred_at) from {{ ref('stg_email__events') }}),
        (select max(activity_at) from {{ ref('stg_hubspot__activities') }}),
        (select max(submitted_at) from {{ ref('stg_forms__leads') }})
    )
{%- endmacro %}
