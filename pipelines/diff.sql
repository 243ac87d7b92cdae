-- Change events between two snapshots (src/diff, spec/events.md).
-- {prev} / {new}: the snapshot folders; {reference}: reference tables (labels); {filings}: a filings
-- CSV or '' ; {extract_number}, {snapshot_date}, {prev_date}, {created_at}: of the new snapshot.
-- Child tables are compared per entity as sets of rows (a sum of row hashes, multiset-exact), the
-- way Update extracts replace them. Only the pairs that changed get a payload.

-- The enterprise rows.
CREATE TEMP TABLE e_prev AS SELECT * FROM read_parquet({prev} || '/enterprise.parquet');
CREATE TEMP TABLE e_new AS SELECT * FROM read_parquet({new} || '/enterprise.parquet');

-- Per enterprise (entity numbers of 12 characters) and aspect: a fingerprint of its rows.
CREATE TEMP MACRO fingerprints(dir) AS TABLE
    SELECT 'names' AS aspect, entity_number AS k,
           sum(hash(language, type_of_denomination, denomination)::HUGEINT) AS h
    FROM read_parquet(dir || '/denomination.parquet') WHERE length(entity_number) = 12 GROUP BY ALL
    UNION ALL
    SELECT 'address', entity_number,
           sum(hash(type_of_address, country_nl, country_fr, zipcode, municipality_nl, municipality_fr,
                    street_nl, street_fr, house_number, box, extra_address_info, date_striking_off)::HUGEINT)
    FROM read_parquet(dir || '/address.parquet') WHERE length(entity_number) = 12 GROUP BY ALL
    UNION ALL
    SELECT 'contacts', entity_number, sum(hash(entity_contact, contact_type, value)::HUGEINT)
    FROM read_parquet(dir || '/contact.parquet') WHERE length(entity_number) = 12 GROUP BY ALL
    UNION ALL
    SELECT 'activities', entity_number,
           sum(hash(activity_group, nace_version, nace_code, classification)::HUGEINT)
    FROM read_parquet(dir || '/activity.parquet') WHERE length(entity_number) = 12 GROUP BY ALL;

-- (enterprise, aspect) pairs that changed, for enterprises in both snapshots.
CREATE TEMP TABLE changed AS
WITH p AS (SELECT * FROM fingerprints({prev})), n AS (SELECT * FROM fingerprints({new}))
SELECT coalesce(p.k, n.k) AS k, coalesce(p.aspect, n.aspect) AS aspect
FROM p FULL JOIN n ON p.k = n.k AND p.aspect = n.aspect
WHERE p.h IS DISTINCT FROM n.h
  AND coalesce(p.k, n.k) IN (SELECT enterprise_number FROM e_prev)
  AND coalesce(p.k, n.k) IN (SELECT enterprise_number FROM e_new)
UNION ALL
SELECT enterprise_number, x.aspect
FROM e_prev p JOIN e_new n USING (enterprise_number),
     LATERAL (SELECT unnest([
         CASE WHEN p.juridical_form IS DISTINCT FROM n.juridical_form
                OR p.juridical_form_cac IS DISTINCT FROM n.juridical_form_cac THEN 'juridical_form' END,
         CASE WHEN p.start_date IS DISTINCT FROM n.start_date THEN 'start_date' END,
         CASE WHEN p.type_of_enterprise IS DISTINCT FROM n.type_of_enterprise THEN 'type_of_enterprise' END
     ]) AS aspect) x
WHERE x.aspect IS NOT NULL;

-- The value of each changed aspect on each side, as JSON (small: lists of a few rows).
CREATE TEMP MACRO aspect_values(dir) AS TABLE
    SELECT c.k, c.aspect, to_json(list_sort(list({'language': d.language, 'type': d.type_of_denomination,
                                                'denomination': d.denomination}))) AS v
    FROM changed c JOIN read_parquet(dir || '/denomination.parquet') d ON d.entity_number = c.k
    WHERE c.aspect = 'names' GROUP BY ALL
    UNION ALL
    SELECT c.k, c.aspect, to_json(list_sort(list({'type': a.type_of_address, 'zipcode': a.zipcode,
               'municipality_nl': a.municipality_nl, 'municipality_fr': a.municipality_fr,
               'street_nl': a.street_nl, 'street_fr': a.street_fr, 'house_number': a.house_number,
               'box': a.box, 'date_striking_off': a.date_striking_off})))
    FROM changed c JOIN read_parquet(dir || '/address.parquet') a ON a.entity_number = c.k
    WHERE c.aspect = 'address' GROUP BY ALL
    UNION ALL
    SELECT c.k, c.aspect, to_json(list_sort(list({'type': x.contact_type, 'value': x.value})))
    FROM changed c JOIN read_parquet(dir || '/contact.parquet') x ON x.entity_number = c.k
    WHERE c.aspect = 'contacts' GROUP BY ALL
    UNION ALL
    SELECT c.k, c.aspect, to_json(list_slice(list_sort(list({'group': x.activity_group,
               'version': x.nace_version, 'code': x.nace_code, 'classification': x.classification})), 1, 60))
    FROM changed c JOIN read_parquet(dir || '/activity.parquet') x ON x.entity_number = c.k
    WHERE c.aspect = 'activities' GROUP BY ALL
    UNION ALL
    SELECT c.k, c.aspect, CASE c.aspect
        WHEN 'juridical_form' THEN to_json({'juridical_form': x.juridical_form,
                                            'juridical_form_cac': x.juridical_form_cac})
        WHEN 'start_date' THEN to_json(x.start_date)
        ELSE to_json(x.type_of_enterprise) END
    FROM changed c JOIN read_parquet(dir || '/enterprise.parquet') x ON x.enterprise_number = c.k
    WHERE c.aspect IN ('juridical_form', 'start_date', 'type_of_enterprise');

CREATE TEMP TABLE v_prev AS SELECT * FROM aspect_values({prev});
CREATE TEMP TABLE v_new AS SELECT * FROM aspect_values({new});

CREATE TEMP TABLE situation_label AS
SELECT code, to_json(map_from_entries(list((lang, description) ORDER BY lang))) AS label
FROM read_parquet({reference} || '/juridical_situation.parquet') WHERE lang IN ('nl', 'fr') GROUP BY code;

CREATE TEMP TABLE events_raw AS
-- company.updated: one event per enterprise, listing what changed (an aspect absent on one side is null).
SELECT 'company.updated' AS type, c.k AS enterprise_number, NULL::VARCHAR AS establishment_number,
       json_object('previous', to_json(map_from_entries(list((c.aspect, p.v) ORDER BY c.aspect))),
                   'current', to_json(map_from_entries(list((c.aspect, n.v) ORDER BY c.aspect))),
                   'changes', to_json(list_sort(list(c.aspect)))) AS data
FROM changed c
LEFT JOIN v_prev p ON p.k = c.k AND p.aspect = c.aspect
LEFT JOIN v_new n ON n.k = c.k AND n.aspect = c.aspect
GROUP BY c.k
UNION ALL
-- company.status_changed: juridical situation.
SELECT 'company.status_changed', enterprise_number, NULL,
       json_object('previous', json_object('juridical_situation', p.juridical_situation),
                   'current', json_object('juridical_situation', n.juridical_situation,
                                          'juridical_situation_label', l.label),
                   'changes', json_array('juridical_situation'))
FROM e_prev p JOIN e_new n USING (enterprise_number)
LEFT JOIN situation_label l ON l.code = n.juridical_situation
WHERE p.juridical_situation IS DISTINCT FROM n.juridical_situation
UNION ALL
-- company.status_changed: left the active register.
SELECT 'company.status_changed', enterprise_number, NULL,
       json_object('previous', json_object('status', 'active', 'juridical_situation', juridical_situation),
                   'current', json_object('status', 'stopped'),
                   'changes', json_array('status'))
FROM e_prev WHERE enterprise_number NOT IN (SELECT enterprise_number FROM e_new)
UNION ALL
-- company.status_changed: entered the active register.
SELECT 'company.status_changed', enterprise_number, NULL,
       json_object('previous', json_object('status', NULL),
                   'current', json_object('status', 'active', 'juridical_situation', juridical_situation,
                                          'start_date', start_date),
                   'changes', json_array('status'))
FROM e_new WHERE enterprise_number NOT IN (SELECT enterprise_number FROM e_prev)
UNION ALL
-- establishment.created / establishment.closed.
SELECT 'establishment.created', n.enterprise_number, n.establishment_number,
       json_object('establishment_number', n.establishment_number, 'start_date', n.start_date)
FROM read_parquet({new} || '/establishment.parquet') n
ANTI JOIN read_parquet({prev} || '/establishment.parquet') p USING (establishment_number)
UNION ALL
SELECT 'establishment.closed', p.enterprise_number, p.establishment_number,
       json_object('establishment_number', p.establishment_number, 'start_date', p.start_date)
FROM read_parquet({prev} || '/establishment.parquet') p
ANTI JOIN read_parquet({new} || '/establishment.parquet') n USING (establishment_number);

-- filings: company.filing_deposited for the deposits dated after the previous snapshot, up to this
-- one ({filings} is the file's rows of that window, cut out by src/diff first). Numbers in any usual form (0200.065.765, 0200065765, BE0200065765) become the display form;
-- rows that cannot be read are skipped here (the score step logs each with its line and column).
INSERT INTO events_raw
SELECT 'company.filing_deposited', substr(d, 1, 4) || '.' || substr(d, 5, 3) || '.' || substr(d, 8, 3), NULL,
       json_object('deposit_date', DepositDate, 'fiscal_year_end', FiscalYearEnd, 'model', Model,
                   'equity', Equity, 'total_assets', TotalAssets, 'profit_loss', ProfitLoss)
FROM (
    SELECT *, CASE WHEN length(x) = 9 THEN '0' || x ELSE x END AS d
    FROM (
        SELECT *, regexp_replace(EnterpriseNumber, '[^0-9]', '', 'g') AS x
        FROM read_csv({filings}, header = true, delim = ',', quote = '"', escape = '"', dateformat = '%d-%m-%Y', ignore_errors = true, columns = {
                'EnterpriseNumber': 'VARCHAR', 'DepositDate': 'DATE', 'FiscalYearEnd': 'DATE', 'Model': 'VARCHAR',
                'Equity': 'BIGINT', 'TotalAssets': 'BIGINT', 'ProfitLoss': 'BIGINT', 'Employees': 'DOUBLE',
                'CurrentAssets': 'BIGINT', 'ShortTermDebt': 'BIGINT'})
    )
)
WHERE length(d) = 10 AND DepositDate > {prev_date}::DATE AND DepositDate <= {snapshot_date}::DATE;

-- Stable ids: the same change (type, entity, extract, content) always gets the same id.
COPY (
    SELECT 'evt_' || substr(sha256(concat_ws('|', type, coalesce(enterprise_number, ''),
                coalesce(establishment_number, ''), {extract_number}, data::VARCHAR)), 1, 26) AS id,
           type,
           {created_at}::TIMESTAMP AS created_at,
           {extract_number}::INTEGER AS extract_number,
           {snapshot_date}::DATE AS snapshot_date,
           enterprise_number,
           establishment_number,
           data::JSON AS data
    FROM events_raw
    ORDER BY type, enterprise_number, establishment_number, id
) TO {out} (FORMAT parquet, COMPRESSION zstd);
