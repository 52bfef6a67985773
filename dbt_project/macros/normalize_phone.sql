{#- Phone text -> E.164 ('+' followed by 8-15 digits, first digit not 0), or NULL.
    Steps: drop extensions ('x123', 'ext. 12', 'extension 5', '#12') and the '(0)' trunk hint;
    '+' prefix -> digits are already international; '00' prefix -> international;
    otherwise national: the row's calling code (from seed country_codes) is prefixed after dropping one
    leading trunk '0' (kept for Italy/San Marino/Vatican: +39/+378 numbers keep their 0).
    A national number that already starts with the calling code and is long enough
    (NANP: 11 digits starting with 1; others: >= 11 digits) is taken as international.
    Without '+'/'00' and without a known country the number cannot be made valid -> NULL. -#}
{% macro normalize_phone(phone_expr, calling_code_expr) -%}
    {%- set no_ext -%}
        {{ regex_replace_all(regex_replace_all("trim(" ~ phone_expr ~ ")",
             "'\s*(?i:(?:ext|extension|ext\.|x|#)\s*\.?\s*:?\s*\d+)\s*$'", "''"), "'\(0\)'", "''") }}
    {%- endset -%}
    {%- set digits -%}{{ regex_replace_all(no_ext, "'[^0-9]'", "''") }}{%- endset -%}
    {%- set cc = calling_code_expr -%}
    {%- set intl -%}
        case
            when {{ regex_matches(no_ext, "'^\+'") }} then {{ digits }}
            when {{ digits }} like '00%' then substr({{ digits }}, 3)
            when {{ cc }} is null then null
            when {{ cc }} = '1' and length({{ digits }}) = 11 and {{ digits }} like '1%' then {{ digits }}
            when {{ digits }} like '0%' and {{ cc }} not in ('39', '378') then {{ cc }} || substr({{ digits }}, 2)
            when {{ cc }} <> '1' and length({{ digits }}) >= 11 and starts_with({{ digits }}, {{ cc }}) then {{ digits }}
            else {{ cc }} || {{ digits }}
        end
    {%- endset -%}
    case when {{ regex_full_match(intl, "'[1-9][0-9]{7,14}'") }} then '+' || {{ intl }} end
{%- endmacro %}
