{#- Column holds ISO-3166 alpha-2 codes present in seed country_codes (NULL allowed). -#}
{% test is_iso_country(model, column_name) %}
select m.{{ column_name }}
from {{ model }} as m
left join {{ ref('country_codes') }} as c on c.alpha2 = m.{{ column_name }}
where m.{{ column_name }} is not null and c.alpha2 is null
{% endtest %}
