-- The `companies` view: one row per enterprise, with labels (warehouse.md).
--
-- name: the legal name (TypeOfDenomination 001). When there are several (bilingual Brussels
--   enterprises), the one in the language of the seat's region (postcode) wins, then a known language.
-- lang: that name's language (fr/nl/de/en); labels are given in it, French when unknown
--   (reference tables fall back from en/de to fr and say so in fallback_lang).
-- main NACE: the MAIN activity of the enterprise itself, newest NACE version first, then activity
--   group (001 VAT first), then code: the `main_activity` table, derived once at ingest.
-- seat: the REGO address, street and municipality in the name's language.
CREATE VIEW companies AS
WITH seat AS (
    SELECT *, CASE
            WHEN TRY_CAST(zipcode AS INTEGER) BETWEEN 1000 AND 1499 THEN '1'
            WHEN TRY_CAST(zipcode AS INTEGER) BETWEEN 1500 AND 3999 THEN '2'
            WHEN TRY_CAST(zipcode AS INTEGER) BETWEEN 4700 AND 4799 THEN '3'
            WHEN TRY_CAST(zipcode AS INTEGER) BETWEEN 4000 AND 7999 THEN '1'
            WHEN TRY_CAST(zipcode AS INTEGER) BETWEEN 8000 AND 9999 THEN '2'
        END AS region_language
    FROM address
    WHERE type_of_address = 'REGO'
    QUALIFY row_number() OVER (PARTITION BY entity_number ORDER BY date_striking_off NULLS FIRST) = 1
),
name AS (
    SELECT d.entity_number, d.denomination, d.language
    FROM denomination d
    LEFT JOIN seat s ON s.entity_number = d.entity_number
    WHERE d.type_of_denomination = '001' AND length(d.entity_number) = 12
    QUALIFY row_number() OVER (
        PARTITION BY d.entity_number
        ORDER BY (d.language = s.region_language) DESC NULLS LAST, (d.language = '0'), d.language DESC, d.denomination
    ) = 1
),
establishments AS (
    SELECT enterprise_number, count(*) AS establishment_count FROM establishment GROUP BY enterprise_number
),
base AS (
    SELECT e.*, n.denomination AS name,
        CASE n.language WHEN '1' THEN 'fr' WHEN '2' THEN 'nl' WHEN '3' THEN 'de' WHEN '4' THEN 'en' END AS lang
    FROM enterprise e
    LEFT JOIN name n ON n.entity_number = e.enterprise_number
)
SELECT
    b.enterprise_number,
    b.vat_number,
    b.name,
    b.lang,
    b.type_of_enterprise,
    b.juridical_form,
    jf.description AS juridical_form_label,
    b.juridical_situation,
    js.description AS juridical_situation_label,
    b.start_date,
    m.nace_version AS main_nace_version,
    m.nace_code AS main_nace_code,
    nc.description AS main_nace_label,
    CASE WHEN b.lang = 'fr' THEN coalesce(s.street_fr, s.street_nl) ELSE coalesce(s.street_nl, s.street_fr) END AS seat_street,
    s.house_number AS seat_house_number,
    s.box AS seat_box,
    s.zipcode AS seat_zipcode,
    CASE WHEN b.lang = 'fr' THEN coalesce(s.municipality_fr, s.municipality_nl) ELSE coalesce(s.municipality_nl, s.municipality_fr) END AS seat_municipality,
    CASE WHEN b.lang = 'fr' THEN coalesce(s.country_fr, s.country_nl) ELSE coalesce(s.country_nl, s.country_fr) END AS seat_country,
    s.date_striking_off AS seat_date_striking_off,
    coalesce(es.establishment_count, 0) AS establishment_count
FROM base b
LEFT JOIN seat s ON s.entity_number = b.enterprise_number
LEFT JOIN main_activity m ON m.entity_number = b.enterprise_number
LEFT JOIN establishments es ON es.enterprise_number = b.enterprise_number
LEFT JOIN juridical_form jf ON jf.code = b.juridical_form AND jf.lang = coalesce(b.lang, 'fr')
LEFT JOIN juridical_situation js ON js.code = b.juridical_situation AND js.lang = coalesce(b.lang, 'fr')
LEFT JOIN nace_code nc ON nc.version = TRY_CAST(m.nace_version AS INTEGER) AND nc.code = m.nace_code AND nc.lang = coalesce(b.lang, 'fr');
