{#- Column holds normalized emails: lowercase, trimmed, matching the project's email regex (NULL allowed). -#}
{% test is_normalized_email(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and not {{ regex_full_match(column_name, email_regex()) }}
{% endtest %}
