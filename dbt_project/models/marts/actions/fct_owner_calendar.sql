-- Meeting proposals (W8): each owner's meetings from a day before the as-of moment on (scheduled or rescheduled),
-- what proposed slots must not overlap.
with as_of as (
    select {{ data_as_of() }} as as_of
)

select m.assigned_to as owner, m.meeting_id, m.meeting_start_at, m.meeting_end_at
from {{ ref('stg_hubspot__meetings') }} as m, as_of
where m.assigned_to is not null
    and m.meeting_end_at >= as_of.as_of - interval 1 day
    and coalesce(m.meeting_outcome, 'SCHEDULED') in ('SCHEDULED', 'RESCHEDULED')
