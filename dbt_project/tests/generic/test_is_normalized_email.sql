{#- Column holds normalized emails: lowercase, trimmed, matching the project's email regex (NULL allowed).
    `written_at`: a column stamping each row with the run that wrote it (the latest run the largest stamp): only the
    latest run's rows are checked, each row having been checked by the run that wrote it (a first build or a full
    refresh stamps every row alike: all are checked). -#}
{% test is_normalized_email(model, column_name, written_at=none) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and not {{ regex_full_match(column_name, email_regex()) }}
{%- if written_at is not none %}
  and {{ written_at }} = (select max({{ written_at }}) from {{ model }})
{%- endif %}
{% endtest %}
