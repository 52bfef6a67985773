{#- Postcode text: cleaned like any text, and the leading zeros a spreadsheet stripped put back.
    Where the country's postcodes are a fixed number of digits that can start with 0 (seed country_codes,
    column postal_code_digits: US 5, DE 5, FR 5, IT 5, NO 4, ...), an all-digit value up to two digits short
    is left-padded with zeros ('2134' in the US -> '02134', '100' in Italy -> '00100'). Anything else is kept
    as written: without a known country a short number cannot be told from a typo. -#}
{% macro normalize_postal_code(postal_expr, alpha2_expr) -%}
    {%- set digits -%}
        {{ postal_code_digits(alpha2_expr) }}
    {%- endset -%}
    {{ normalize_postal_code_of_digits(postal_expr, digits) }}
{%- endmacro %}

{#- The number of digits of a country's postcodes (seed country_codes), NULL where they are not a fixed number. -#}
{% macro postal_code_digits(alpha2_expr) -%}
    (select min(try_cast(nullif(cc.postal_code_digits, '') as integer)) from {{ ref('country_codes') }} as cc where cc.alpha2 = {{ alpha2_expr }})
{%- endmacro %}

{#- normalize_postal_code with the country's postcode digits given (postal_code_digits), e.g. looked up once per
    distinct country in a model rather than once per row. -#}
{% macro normalize_postal_code_of_digits(postal_expr, digits) -%}
    {%- set cleaned -%}{{ normalize_text(postal_expr) }}{%- endset -%}
    case
        when {{ regex_full_match(cleaned, "'[0-9]+'") }}
             and length({{ cleaned }}) between {{ digits }} - 2 and {{ digits }} - 1
            then lpad({{ cleaned }}, {{ digits }}, '0')
        else {{ cleaned }}
    end
{%- endmacro %}
