-- Candidate values per golden contact and field, with their survivorship source class and provenance:
-- CRM values (human_verified when the record lists the field as verified, else crm_user_entered; role and
-- seniority derived from the title are inferred) and vendor values that passed the enrichment guards.
-- Incremental: `inputs_hash` sums up, per golden contact, everything its candidates are made of (its records'
-- staged rows and its vendor candidates); a run unpivots again only the contacts whose hash changed or that are
-- new, replacing their rows (delete+insert on entity_id). Contacts gone (merged into another) come out of the
-- comparison with the previous rows as a tombstone (the id, every other column NULL, `inputs_hash` NULL: a written
-- row's hash never is), which delete+insert uses to delete their rows and the post-hook deletes after the insert
-- (DuckDB skips the row groups without a NULL hash). This replaces a second pass over every stored row after the run
-- (`entity_id not in` the clusters, ~17.7M rows at 1M contacts).
-- A change of the HubSpot field map seed (er_hubspot_field_map) changes no hash: rebuild with --full-refresh.
-- `_written_at` stamps the rows each run writes (a contact's rows are always written together): the key test checks
-- the latest run's rows.
{%- set fields = golden_contact_fields() %}
{{ config(
    materialized='incremental',
    unique_key='entity_id',
    incremental_strategy='delete+insert',
    on_schema_change='sync_all_columns',
    meta={'row_key': ['entity_id', 'field_name', 'source_name', 'source_record_id']},
    post_hook="delete from {{ this }} where inputs_hash is null"
) }}
-- `staged` and `vendor_candidates` are read twice: whole for the inputs' hashes, and for the changed contacts' rows.
-- Not materialized: DuckDB would otherwise buffer every record's wide row before either read.
with staged as not materialized (
    select s.*, c.golden_contact_id
    from {{ ref('stg_hubspot__contacts') }} as s
    inner join {{ ref('int_entities__contact_clusters') }} as c on c.record_id = s.contact_id
),

vendor_candidates as not materialized (
    select * from {{ ref('int_enrichment__contact_candidates') }} where disposition = 'candidate'
),

inputs as (
    select golden_contact_id, hash(crm.inputs, vendor.inputs) as inputs_hash
    from (
        select golden_contact_id, bit_xor(hash(
            contact_id, last_modified_at, created_at, human_verified_fields,
            {%- for f in fields %} {{ f }}{{ ',' if not loop.last }}{% endfor %}
        )) as inputs
        from staged
        group by golden_contact_id
    ) as crm
    full join (
        select golden_contact_id, bit_xor(hash(enrichment_field_id, field_name, value, vendor, observed_at,
                                               confidence)) as inputs
        from vendor_candidates
        group by golden_contact_id
    ) as vendor using (golden_contact_id)
),

{%- set compared = is_incremental() and 'inputs_hash' in adapter.get_columns_in_relation(this) | map(attribute='name') %}
{%- if compared %}
-- A contact's rows all carry the hash they were written with (delete+insert on entity_id), so a contact is
-- unchanged exactly when some previous row has its id and hash. A full join on both keeps what matched nothing:
-- a contact without such a row (new or changed: `i` set), and the previous rows of a contact whose hash is gone
-- (changed or gone: `previous` set). DuckDB builds it on the contacts and probes the stored rows once, as the anti
-- join this replaces did; the gone contacts were found by a second pass over the stored rows after the run.
unmatched as materialized (
    select i.golden_contact_id, i.inputs_hash, previous.entity_id as previous_id
    from inputs as i
    full join (select entity_id, inputs_hash from {{ this }}) as previous
        on previous.entity_id = i.golden_contact_id and previous.inputs_hash = i.inputs_hash
    where i.inputs_hash is null or previous.entity_id is null
),
{%- endif %}

changed as (
    select i.golden_contact_id, i.inputs_hash
    {%- if compared %}
    from unmatched as i
    where i.inputs_hash is not null
    {%- else %}
    from inputs as i
    {%- endif %}
),

records as (
    select
        s.contact_id as record_id,
        s.golden_contact_id,
        coalesce(s.last_modified_at, s.created_at) as observed_at,
        {%- for f in fields %}
        s.{{ f }},
        {%- endfor %}
        s.human_verified_fields,
        -- Carried through the unpivot: one join per record here rather than one per record and field after it.
        c.inputs_hash
    from staged as s
    inner join changed as c on c.golden_contact_id = s.golden_contact_id
    {%- if is_incremental() %}
    -- The same rows: this semi join is built on the changed contacts and filters the records before the join above,
    -- which DuckDB, expecting most contacts to have changed (an hour changes ~1%), builds on the records' side.
    where s.golden_contact_id in (select golden_contact_id from changed)
    {%- endif %}
),

-- The fields each record lists as verified, as one list per record: looked up in it after the unpivot rather than
-- joined to every (record, field) row (a join of ~18 rows per record, most of the model's time at 1M).
human_verified as (
    select hv.record_id, list(distinct m.field_name) as verified_fields
    from (select record_id, unnest(human_verified_fields) as hubspot_property from records) as hv
    inner join {{ ref('er_hubspot_field_map') }} as m using (hubspot_property)
    group by hv.record_id
),

crm_values as (
    unpivot (
        select r.* exclude (human_verified_fields), hv.verified_fields
        from records as r
        left join human_verified as hv using (record_id)
    )
    on {{ fields | join(', ') }}
    into name field_name value value
)

select
    v.golden_contact_id as entity_id,
    v.field_name,
    v.value,
    case
        when list_contains(v.verified_fields, v.field_name) then 'human_verified'
        -- The staging rules derive these from the job title: the pipeline inferred them.
        when v.field_name in ('role_category', 'seniority') then 'inferred'
        else 'crm_user_entered'
    end as source_class,
    'hubspot' as source_name,
    cast(v.record_id as varchar) as source_record_id,
    v.observed_at,
    cast(null as double) as confidence,
    v.inputs_hash,
    {{ run_started_stamp() }} as _written_at
from crm_values as v

union all

select
    v.golden_contact_id as entity_id,
    v.field_name,
    v.value,
    'enrichment' as source_class,
    v.vendor as source_name,
    v.enrichment_field_id as source_record_id,
    v.observed_at,
    v.confidence,
    c.inputs_hash,
    {{ run_started_stamp() }} as _written_at
from vendor_candidates as v
inner join changed as c using (golden_contact_id)
{%- if is_incremental() %}
where v.golden_contact_id in (select golden_contact_id from changed)
{%- endif %}
{%- if compared %}

union all

-- A tombstone for each contact some previous row of which matched nothing: deletes that contact's rows (a changed
-- contact's new rows are inserted beside it), then is deleted by the post-hook.
select
    previous_id as entity_id,
    null as field_name,
    null as value,
    null as source_class,
    null as source_name,
    null as source_record_id,
    null as observed_at,
    null as confidence,
    null as inputs_hash,
    {{ run_started_stamp() }} as _written_at
from unmatched
where previous_id is not null
group by previous_id
{%- endif %}
