{#- Column holds E.164 phone numbers: '+', then 8-15 digits, first digit not 0 (NULL allowed). -#}
{% test is_e164(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and not {{ regex_full_match(column_name, "'\+[1-9][0-9]{7,14}'") }}
{% endtest %}
