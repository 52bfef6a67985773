-- CRM hygiene (W11), stage changes on explicit evidence only: an open deal still before "decision maker
-- bought-in" whose held meeting (outcome COMPLETED, after the deal's last stage change) had an economic buyer
-- present — a contact of the meeting whose seniority is one of `hygiene_economic_buyer_seniorities`. One row per
-- deal: the latest such meeting and the buyer, the evidence a stage-change proposal carries.
with open_early as (
    select *
    from {{ ref('fct_pipeline_deals') }}
    where is_open and stage in ('appointment scheduled', 'qualified to buy', 'presentation scheduled')
),

meetings as (
    select m.meeting_id, m.meeting_name, m.meeting_start_at, m.meeting_end_at, u.deal_id, m.associated_contact_ids
    from {{ ref('stg_hubspot__meetings') }} as m, unnest(m.associated_deal_ids) as u(deal_id)
    where m.meeting_outcome = 'COMPLETED'
),

buyers as (
    select m.*, c.contact_id as buyer_record_id, x.golden_contact_id as buyer_golden_contact_id, g.seniority,
           g.job_title
    from meetings as m, unnest(m.associated_contact_ids) as v(contact_id)
    inner join {{ ref('stg_hubspot__contacts') }} as c on c.contact_id = v.contact_id
    inner join {{ ref('contact_crosswalk') }} as x on x.source_record_id = c.contact_id
    inner join {{ ref('dim_contacts') }} as g on g.golden_contact_id = x.golden_contact_id
    where g.seniority in (
        {%- for s in var('hygiene_economic_buyer_seniorities') %}'{{ s }}'{{ ',' if not loop.last }}{% endfor -%}
    )
)

select
    d.deal_id,
    d.deal_name,
    d.owner,
    d.stage,
    d.golden_account_id,
    b.meeting_id,
    b.meeting_name,
    b.meeting_end_at,
    b.buyer_record_id,
    b.buyer_golden_contact_id,
    b.seniority as buyer_seniority,
    b.job_title as buyer_job_title,
    d.as_of
from open_early as d
inner join buyers as b on b.deal_id = d.deal_id
where b.meeting_end_at >= greatest(
    d.appointment_scheduled_entered_at, d.qualified_to_buy_entered_at, d.presentation_scheduled_entered_at
) and b.meeting_end_at <= d.as_of
qualify row_number() over (partition by d.deal_id order by b.meeting_end_at desc, b.buyer_record_id) = 1
