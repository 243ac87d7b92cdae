-- Payment-risk model v1 (spec/payment-risk.md), for every enterprise of a snapshot at once.
-- {snapshot} / {reference}: the snapshot and reference folders; {snapshot_date}: its ISO date;
-- {model_version}; {has_filings}: whether a filings input was given; {must_file}: the juridical forms
-- that must deposit accounts (kbo::forms::MUST_FILE); {out}: payment_risk.parquet.
-- Before this file, src/score creates: filings_in (the deposits, typed), events_in (the change
-- events of the published extracts and this one), js_class (code, class, description_fr: the
-- reviewed data/juridical_situation_risk.csv).
-- Higher score = riskier. Every point comes with a reason {code, points, evidence}; the points of
-- the reasons (caps and floors included) always add up to the score.

-- ---------------------------------------------------------------------------------------------
-- The model: every threshold and every point, in one place.
-- ---------------------------------------------------------------------------------------------
CREATE TEMP TABLE rules (code VARCHAR, component VARCHAR, points INTEGER, threshold DOUBLE, rule VARCHAR);
INSERT INTO rules VALUES
    -- Floors: the final score is at least this (juridical situation classes: js_class).
    ('JS_BANKRUPTCY',        'floor',      95, NULL, 'bankruptcy opened'),
    ('JS_LIQUIDATION',       'floor',      85, NULL, 'dissolution or liquidation'),
    ('JS_REORGANISATION',    'floor',      75, NULL, 'judicial reorganisation or suspension of payment'),
    ('KBO_STOPPED',          'floor',      80, NULL, 'left the active register (known from an earlier snapshot)'),
    ('JS_OTHER',             'situation',  15, NULL, 'another non-normal juridical situation'),
    -- Filing: only forms that must file; natural persons never. Accounts are due 7 months after
    -- the fiscal year's end (threshold of ACC_DUE_MONTHS); late = days after the due date.
    ('ACC_DUE_MONTHS',       'filing',      0,    7, 'months after the fiscal year end the accounts are due'),
    ('ACC_MISSING',          'filing',     20, NULL, 'accounts of the latest due fiscal year not deposited'),
    ('ACC_MISSING_2Y',       'filing',     30, NULL, 'accounts of the two latest due fiscal years not deposited'),
    ('ACC_LATE',             'filing',      4,   60, 'latest accounts deposited 1 to threshold days late'),
    ('ACC_VERY_LATE',        'filing',      8,   60, 'latest accounts deposited more than threshold days late'),
    -- Financials, from the latest deposit; their sum is capped.
    ('FIN_NEGATIVE_EQUITY',  'financials', 20,    0, 'equity below threshold'),
    ('FIN_LOW_SOLVENCY',     'financials',  8, 0.10, 'equity / total assets below threshold'),
    ('FIN_LOSS',             'financials',  5,    0, 'a loss in the latest fiscal year'),
    ('FIN_LOSS_2Y',          'financials',  5,    0, 'a loss in the fiscal year before too'),
    ('FIN_LOW_LIQUIDITY',    'financials',  5,    1, 'current assets / short-term debt below threshold'),
    ('CAP_FINANCIALS',       'cap',        35, NULL, 'financial points above this are not counted'),
    -- Age: years from the start date to the snapshot date, below threshold.
    ('AGE_LT_1Y',            'age',        15,    1, 'younger than 1 year'),
    ('AGE_1_2Y',             'age',        12,    2, '1 to 2 years old'),
    ('AGE_2_3Y',             'age',         8,    3, '2 to 3 years old'),
    ('AGE_3_5Y',             'age',         4,    5, '3 to 5 years old'),
    -- Size: average FTE employees of the latest deposit, below threshold.
    ('SIZE_NO_EMPLOYEES',    'size',        6, NULL, 'no employees known (no count, or 0 FTE)'),
    ('SIZE_LT_5_FTE',        'size',        4,    5, 'fewer than 5 FTE'),
    ('SIZE_5_49_FTE',        'size',        2,   50, '5 to 49 FTE'),
    -- Register events of the last threshold months (from the change events); their sum is capped.
    ('EVT_WINDOW_MONTHS',    'events',      0,   12, 'months of change events that count'),
    ('EVT_SEAT_MOVED',       'events',      4,    1, 'the seat moved once'),
    ('EVT_SEAT_MOVED_2X',    'events',      8,    2, 'the seat moved threshold times or more'),
    ('EVT_SEAT_STRUCK_OFF',  'events',     15, NULL, 'the seat address was struck off'),
    ('EVT_NAME_CHANGE',      'events',      3, NULL, 'the legal name changed'),
    ('EVT_FORM_CHANGE',      'events',      2, NULL, 'the juridical form changed'),
    ('EVT_ALL_ESTABLISHMENTS_CLOSED', 'events', 5, NULL, 'establishments closed and none left'),
    ('CAP_EVENTS',           'cap',        20, NULL, 'event points above this are not counted'),
    ('CAP_TOTAL',            'cap',       100, NULL, 'the sum of points is capped'),
    -- Categories: the lowest score of each.
    ('CATEGORY_MODERATE',    'category',   25, NULL, 'moderate from this score'),
    ('CATEGORY_HIGH',        'category',   50, NULL, 'high from this score'),
    ('CATEGORY_CRITICAL',    'category',   75, NULL, 'critical from this score');

-- Sector (SECTOR_<section>): points by the main activity's NACE section. Provisional: ordered by
-- the sectors with the most bankruptcies in Belgium (hospitality, construction, transport, trade,
-- support services); 0 elsewhere until failure rates are measured on past snapshots. The section
-- letters differ between NACE versions, hence one row per version.
CREATE TEMP TABLE sector_points (nace_version VARCHAR, section VARCHAR, points INTEGER);
INSERT INTO sector_points VALUES
    ('2025', 'I', 8), ('2025', 'F', 6), ('2025', 'H', 5), ('2025', 'G', 4), ('2025', 'O', 4), ('2025', 'S', 3), ('2025', 'T', 3),
    ('2008', 'I', 8), ('2008', 'F', 6), ('2008', 'H', 5), ('2008', 'G', 4), ('2008', 'N', 4), ('2008', 'R', 3), ('2008', 'S', 3),
    ('2003', 'H', 8), ('2003', 'F', 6), ('2003', 'I', 5), ('2003', 'G', 4), ('2003', 'O', 3);

CREATE TEMP MACRO pts(c) AS (SELECT points FROM rules WHERE code = c);
CREATE TEMP MACRO thr(c) AS (SELECT threshold FROM rules WHERE code = c);
CREATE TEMP MACRO reason(c, p, evidence) AS {'code': c, 'points': p::INTEGER, 'evidence': evidence};
CREATE TEMP MACRO points_of(l) AS coalesce(list_sum(list_transform(l, x -> x.points)), 0)::INTEGER;

-- ---------------------------------------------------------------------------------------------
-- Features, one row per enterprise.
-- ---------------------------------------------------------------------------------------------
CREATE TEMP TABLE ent AS
SELECT e.enterprise_number, e.juridical_situation, e.juridical_form, e.start_date,
       coalesce(e.type_of_enterprise = '1', false) AS natural_person,
       coalesce(coalesce(e.type_of_enterprise <> '1', true) AND list_contains({must_file}, e.juridical_form), false) AS must_file,
       coalesce(c.class, CASE WHEN e.juridical_situation = '000' THEN 'normal' ELSE 'other' END) AS js_class,
       coalesce(c.description_fr, 'unknown code') AS js_description
FROM read_parquet({snapshot} || '/enterprise.parquet') e
LEFT JOIN js_class c ON c.code = e.juridical_situation;

-- Main activity: the enterprise's MAIN activity, newest NACE version, then activity group, then
-- code (as the companies view); its section through the division's parent.
CREATE TEMP TABLE main_nace AS
SELECT a.enterprise_number, a.m.version AS nace_version, a.m.code AS nace_code, d.parent AS section,
       s.description AS section_label
FROM (
    SELECT entity_number AS enterprise_number,
           arg_min({'version': nace_version, 'code': nace_code},
                   {'v': -TRY_CAST(nace_version AS INTEGER), 'g': activity_group, 'c': nace_code}) AS m
    FROM read_parquet({snapshot} || '/activity.parquet')
    WHERE classification = 'MAIN' AND length(entity_number) = 12
    GROUP BY ALL
) a
LEFT JOIN read_parquet({reference} || '/nace_code.parquet') d
       ON d.version = TRY_CAST(a.m.version AS INTEGER) AND d.code = left(a.m.code, 2) AND d.level = 2 AND d.lang = 'en'
LEFT JOIN read_parquet({reference} || '/nace_code.parquet') s
       ON s.version = d.version AND s.code = d.parent AND s.level = 1 AND s.lang = 'en';

CREATE TEMP TABLE establishments AS
SELECT enterprise_number, count(*) AS n
FROM read_parquet({snapshot} || '/establishment.parquet') GROUP BY ALL;

-- Deposits known on the snapshot date: per fiscal year its first deposit date and the figures of
-- its latest deposit; per enterprise the two latest fiscal years (y[1], y[2]).
CREATE TEMP TABLE accounts AS
WITH fy AS (
    SELECT enterprise_number, fiscal_year_end, min(deposit_date) AS deposited,
           arg_max({'equity': equity, 'total_assets': total_assets, 'profit_loss': profit_loss,
                    'employees': employees, 'current_assets': current_assets,
                    'short_term_debt': short_term_debt}, deposit_date) AS f
    FROM filings_in WHERE deposit_date <= {snapshot_date}::DATE
    GROUP BY ALL
)
SELECT enterprise_number,
       max_by({'fye': fiscal_year_end, 'deposited': deposited, 'equity': f.equity,
               'total_assets': f.total_assets, 'profit_loss': f.profit_loss, 'employees': f.employees,
               'current_assets': f.current_assets, 'short_term_debt': f.short_term_debt},
              fiscal_year_end, 2) AS y
FROM fy GROUP BY ALL;

-- Change events of the window, per enterprise.
CREATE TEMP TABLE window_events AS
SELECT * FROM events_in
WHERE snapshot_date > ({snapshot_date}::DATE - to_months(thr('EVT_WINDOW_MONTHS')::INTEGER))::DATE
  AND snapshot_date <= {snapshot_date}::DATE;

CREATE TEMP TABLE event_features AS
WITH u AS (
    SELECT enterprise_number, extract_number,
           list_filter(from_json(json_extract(data, '$.previous.address'), '[{"type":"VARCHAR","zipcode":"VARCHAR","municipality_nl":"VARCHAR","municipality_fr":"VARCHAR","street_nl":"VARCHAR","street_fr":"VARCHAR","house_number":"VARCHAR","box":"VARCHAR","date_striking_off":"VARCHAR"}]'), a -> a.type = 'REGO')[1] AS seat_prev,
           list_filter(from_json(json_extract(data, '$.current.address'), '[{"type":"VARCHAR","zipcode":"VARCHAR","municipality_nl":"VARCHAR","municipality_fr":"VARCHAR","street_nl":"VARCHAR","street_fr":"VARCHAR","house_number":"VARCHAR","box":"VARCHAR","date_striking_off":"VARCHAR"}]'), a -> a.type = 'REGO')[1] AS seat_cur,
           list_sort(list_transform(list_filter(from_json(json_extract(data, '$.previous.names'), '[{"language":"VARCHAR","type":"VARCHAR","denomination":"VARCHAR"}]'), n -> n.type = '001'), n -> n.denomination)) AS names_prev,
           list_sort(list_transform(list_filter(from_json(json_extract(data, '$.current.names'), '[{"language":"VARCHAR","type":"VARCHAR","denomination":"VARCHAR"}]'), n -> n.type = '001'), n -> n.denomination)) AS names_cur,
           list_contains(from_json(json_extract(data, '$.changes'), '["VARCHAR"]'), 'juridical_form') AS form_changed
    FROM window_events WHERE type = 'company.updated'
), m AS (
    SELECT *,
           seat_prev IS NOT NULL AND seat_cur IS NOT NULL
             AND {'z': seat_prev.zipcode, 'm': seat_prev.municipality_nl, 's': seat_prev.street_nl, 'f': seat_prev.street_fr,
                  'h': seat_prev.house_number, 'b': seat_prev.box}
                 IS DISTINCT FROM
                 {'z': seat_cur.zipcode, 'm': seat_cur.municipality_nl, 's': seat_cur.street_nl, 'f': seat_cur.street_fr,
                  'h': seat_cur.house_number, 'b': seat_cur.box} AS moved,
           seat_cur.date_striking_off IS NOT NULL AND (seat_prev IS NULL OR seat_prev.date_striking_off IS NULL) AS struck_off,
           names_prev IS NOT NULL AND names_cur IS NOT NULL AND len(names_prev) > 0 AND names_prev IS DISTINCT FROM names_cur AS renamed
    FROM u
)
SELECT enterprise_number,
       count(*) FILTER (WHERE moved) AS seat_moves,
       max(extract_number) FILTER (WHERE moved) AS seat_moved_in,
       max(extract_number) FILTER (WHERE struck_off) AS struck_off_in,
       max(extract_number) FILTER (WHERE renamed) AS renamed_in,
       arg_max(names_prev[1] || ' → ' || names_cur[1], extract_number) FILTER (WHERE renamed) AS rename,
       max(extract_number) FILTER (WHERE form_changed) AS form_changed_in
FROM m GROUP BY ALL;

CREATE TEMP TABLE closed_establishments AS
SELECT enterprise_number, count(*) AS n, max(extract_number) AS last_in
FROM window_events WHERE type = 'establishment.closed' GROUP BY ALL;

-- Enterprises that left the active register in the window and are not back: scored by the floor.
CREATE TEMP TABLE stopped AS
SELECT enterprise_number, max(extract_number) AS extract_number, max(snapshot_date) AS snapshot_date,
       arg_max(json_extract_string(data, '$.previous.juridical_situation'), extract_number) AS juridical_situation
FROM window_events
WHERE type = 'company.status_changed' AND json_extract_string(data, '$.current.status') = 'stopped'
  AND enterprise_number NOT IN (SELECT enterprise_number FROM ent)
GROUP BY ALL;

-- ---------------------------------------------------------------------------------------------
-- Points, per component (each a list of reasons), then caps and floors.
-- ---------------------------------------------------------------------------------------------
CREATE TEMP TABLE features AS
SELECT e.*, {snapshot_date}::DATE AS snap,
       date_diff('day', e.start_date, {snapshot_date}::DATE) / 365.25 AS age,
       n.nace_version, n.nace_code, n.section, n.section_label, coalesce(sp.points, 0) AS sector_points,
       a.y[1] AS y1, a.y[2] AS y2,
       coalesce(x.n, 0) AS establishment_count,
       ev.seat_moves, ev.seat_moved_in, ev.struck_off_in, ev.renamed_in, ev.rename, ev.form_changed_in,
       c.n AS closed_count, c.last_in AS closed_in,
       -- The filing calendar: fiscal years end on the month of the latest deposit (31 December
       -- when there is none); the latest due one is the newest whose due date has passed.
       coalesce(month(a.y[1].fye), 12) AS fy_month
FROM ent e
LEFT JOIN main_nace n USING (enterprise_number)
LEFT JOIN sector_points sp ON sp.nace_version = n.nace_version AND sp.section = n.section
LEFT JOIN accounts a USING (enterprise_number)
LEFT JOIN establishments x USING (enterprise_number)
LEFT JOIN event_features ev USING (enterprise_number)
LEFT JOIN closed_establishments c USING (enterprise_number);

CREATE TEMP TABLE calendar AS
WITH c AS (
    SELECT enterprise_number, snap, to_months(thr('ACC_DUE_MONTHS')::INTEGER) AS due_after,
           last_day(make_date(year(snap), fy_month, 1)) AS fye0,
           last_day(make_date(year(snap) - 1, fy_month, 1)) AS fye1,
           last_day(make_date(year(snap) - 2, fy_month, 1)) AS fye2
    FROM features
), d AS (
    SELECT enterprise_number, due_after,
           CASE WHEN (fye0 + due_after)::DATE < snap THEN fye0
                WHEN (fye1 + due_after)::DATE < snap THEN fye1
                ELSE fye2 END AS due_fye
    FROM c
)
SELECT enterprise_number, due_fye, (due_fye + due_after)::DATE AS due_date,
       last_day(make_date(year(due_fye) - 1, month(due_fye), 1)) AS prev_fye,
       (last_day(make_date(year(due_fye) - 1, month(due_fye), 1)) + due_after)::DATE AS prev_due_date
FROM d;

CREATE TEMP TABLE components AS
WITH f AS (
    SELECT f.*, k.due_fye, k.due_date, k.prev_fye, k.prev_due_date,
           -- a fiscal year is due only if it ends in a year after the start year (first fiscal year)
           f.must_file AND {has_filings} AND year(k.due_fye) > year(f.start_date) AS due_latest,
           f.must_file AND {has_filings} AND year(k.prev_fye) > year(f.start_date) AS due_previous,
           -- covered: the latest deposited fiscal year ends at most a month before it, or later
           coalesce(f.y1.fye >= k.due_fye - INTERVAL 31 DAY, false) AS has_latest,
           coalesce(f.y1.fye >= k.prev_fye - INTERVAL 31 DAY, false) AS has_previous,
           date_diff('day', (f.y1.fye + to_months(thr('ACC_DUE_MONTHS')::INTEGER))::DATE, f.y1.deposited) AS days_late
    FROM features f JOIN calendar k USING (enterprise_number)
)
SELECT enterprise_number, js_class, juridical_situation, js_description, y1, establishment_count,
    list_filter([
        CASE WHEN due_latest AND NOT has_latest AND due_previous AND NOT has_previous THEN
            reason('ACC_MISSING_2Y', pts('ACC_MISSING_2Y'),
                   format('no accounts deposited for the fiscal years ending {} and {} (due {} and {})',
                          prev_fye, due_fye, prev_due_date, due_date)) END,
        CASE WHEN due_latest AND NOT has_latest AND NOT (due_previous AND NOT has_previous) THEN
            reason('ACC_MISSING', pts('ACC_MISSING'),
                   format('no accounts deposited for the fiscal year ending {} (due {})', due_fye, due_date)) END,
        CASE WHEN must_file AND {has_filings} AND (NOT due_latest OR has_latest) AND days_late > thr('ACC_VERY_LATE') THEN
            reason('ACC_VERY_LATE', pts('ACC_VERY_LATE'),
                   format('accounts for the fiscal year ending {} deposited on {}, {} days after the due date',
                          y1.fye, y1.deposited, days_late)) END,
        CASE WHEN must_file AND {has_filings} AND (NOT due_latest OR has_latest) AND days_late BETWEEN 1 AND thr('ACC_LATE') THEN
            reason('ACC_LATE', pts('ACC_LATE'),
                   format('accounts for the fiscal year ending {} deposited on {}, {} days after the due date',
                          y1.fye, y1.deposited, days_late)) END
    ], x -> x IS NOT NULL) AS r_filing,
    list_filter([
        CASE WHEN y1.equity < thr('FIN_NEGATIVE_EQUITY') THEN
            reason('FIN_NEGATIVE_EQUITY', pts('FIN_NEGATIVE_EQUITY'),
                   format('equity {} EUR (fiscal year ending {})', y1.equity, y1.fye)) END,
        CASE WHEN y1.equity >= thr('FIN_NEGATIVE_EQUITY') AND y1.total_assets > 0
                  AND y1.equity / y1.total_assets < thr('FIN_LOW_SOLVENCY') THEN
            reason('FIN_LOW_SOLVENCY', pts('FIN_LOW_SOLVENCY'),
                   format('equity / total assets {:.1f} % ({} / {} EUR, fiscal year ending {})',
                          100.0 * y1.equity / y1.total_assets, y1.equity, y1.total_assets, y1.fye)) END,
        CASE WHEN y1.profit_loss < thr('FIN_LOSS') THEN
            reason('FIN_LOSS', pts('FIN_LOSS'),
                   format('loss of {} EUR (fiscal year ending {})', -y1.profit_loss, y1.fye)) END,
        CASE WHEN y1.profit_loss < thr('FIN_LOSS') AND y2.profit_loss < thr('FIN_LOSS_2Y') THEN
            reason('FIN_LOSS_2Y', pts('FIN_LOSS_2Y'),
                   format('loss of {} EUR in the fiscal year before too (ending {})', -y2.profit_loss, y2.fye)) END,
        CASE WHEN y1.short_term_debt > 0 AND y1.current_assets / y1.short_term_debt < thr('FIN_LOW_LIQUIDITY') THEN
            reason('FIN_LOW_LIQUIDITY', pts('FIN_LOW_LIQUIDITY'),
                   format('current assets / short-term debt {:.2f} ({} / {} EUR, fiscal year ending {})',
                          y1.current_assets / y1.short_term_debt, y1.current_assets, y1.short_term_debt, y1.fye)) END
    ], x -> x IS NOT NULL) AS r_fin,
    list_filter([
        CASE WHEN age < thr('AGE_LT_1Y') THEN reason('AGE_LT_1Y', pts('AGE_LT_1Y'),
                 format('started on {}, {:.1f} years before the snapshot of {}', start_date, age, snap))
             WHEN age < thr('AGE_1_2Y') THEN reason('AGE_1_2Y', pts('AGE_1_2Y'),
                 format('started on {}, {:.1f} years before the snapshot of {}', start_date, age, snap))
             WHEN age < thr('AGE_2_3Y') THEN reason('AGE_2_3Y', pts('AGE_2_3Y'),
                 format('started on {}, {:.1f} years before the snapshot of {}', start_date, age, snap))
             WHEN age < thr('AGE_3_5Y') THEN reason('AGE_3_5Y', pts('AGE_3_5Y'),
                 format('started on {}, {:.1f} years before the snapshot of {}', start_date, age, snap)) END,
        CASE WHEN coalesce(y1.employees, 0) = 0 THEN reason('SIZE_NO_EMPLOYEES', pts('SIZE_NO_EMPLOYEES'),
                 CASE WHEN y1 IS NULL THEN 'no annual accounts, so no employee count'
                      WHEN y1.employees IS NULL THEN format('no employee count in the accounts of the fiscal year ending {}', y1.fye)
                      ELSE format('0 FTE in the accounts of the fiscal year ending {}', y1.fye) END)
             WHEN y1.employees < thr('SIZE_LT_5_FTE') THEN reason('SIZE_LT_5_FTE', pts('SIZE_LT_5_FTE'),
                 format('{:.1f} FTE (fiscal year ending {})', y1.employees, y1.fye))
             WHEN y1.employees < thr('SIZE_5_49_FTE') THEN reason('SIZE_5_49_FTE', pts('SIZE_5_49_FTE'),
                 format('{:.1f} FTE (fiscal year ending {})', y1.employees, y1.fye)) END,
        CASE WHEN sector_points > 0 THEN reason('SECTOR_' || section, sector_points,
                 format('main activity {} (NACE {}), section {}: {}', nace_code, nace_version, section, section_label)) END
    ], x -> x IS NOT NULL) AS r_profile,
    list_filter([
        CASE WHEN seat_moves >= thr('EVT_SEAT_MOVED_2X') THEN reason('EVT_SEAT_MOVED_2X', pts('EVT_SEAT_MOVED_2X'),
                 format('the seat moved {} times in the last {} months (latest in extract {})', seat_moves, thr('EVT_WINDOW_MONTHS')::INTEGER, seat_moved_in))
             WHEN seat_moves >= thr('EVT_SEAT_MOVED') THEN reason('EVT_SEAT_MOVED', pts('EVT_SEAT_MOVED'),
                 format('the seat moved in extract {}', seat_moved_in)) END,
        CASE WHEN struck_off_in IS NOT NULL THEN reason('EVT_SEAT_STRUCK_OFF', pts('EVT_SEAT_STRUCK_OFF'),
                 format('the seat address was struck off (extract {})', struck_off_in)) END,
        CASE WHEN renamed_in IS NOT NULL THEN reason('EVT_NAME_CHANGE', pts('EVT_NAME_CHANGE'),
                 format('legal name changed in extract {}: {}', renamed_in, rename)) END,
        CASE WHEN form_changed_in IS NOT NULL THEN reason('EVT_FORM_CHANGE', pts('EVT_FORM_CHANGE'),
                 format('juridical form changed in extract {} (now {})', form_changed_in, juridical_form)) END,
        CASE WHEN closed_count > 0 AND establishment_count = 0 THEN reason('EVT_ALL_ESTABLISHMENTS_CLOSED', pts('EVT_ALL_ESTABLISHMENTS_CLOSED'),
                 format('{} establishment(s) closed (latest in extract {}), none left', closed_count, closed_in)) END
    ], x -> x IS NOT NULL) AS r_events,
    list_filter([
        CASE WHEN js_class = 'other' THEN reason('JS_OTHER', pts('JS_OTHER'),
                 format('juridical situation {} ({})', juridical_situation, js_description)) END
    ], x -> x IS NOT NULL) AS r_situation
FROM f;

CREATE TEMP TABLE scored AS
WITH s AS (
    SELECT *,
           points_of(r_filing) + least(points_of(r_fin), pts('CAP_FINANCIALS')) + points_of(r_profile)
             + least(points_of(r_events), pts('CAP_EVENTS')) + points_of(r_situation) AS raw,
           CASE js_class WHEN 'bankruptcy' THEN 'JS_BANKRUPTCY' WHEN 'liquidation' THEN 'JS_LIQUIDATION'
                         WHEN 'reorganisation' THEN 'JS_REORGANISATION' END AS floor_code
    FROM components
), t AS (
    SELECT *, least(raw, pts('CAP_TOTAL')) AS capped, coalesce(pts(floor_code), 0) AS floor FROM s
)
SELECT enterprise_number, greatest(capped, floor) AS score,
       CASE WHEN y1 IS NOT NULL THEN 'register_and_accounts'
            WHEN {has_filings} THEN 'register_no_accounts' ELSE 'register_only' END AS data_completeness,
       list_concat(r_filing, r_fin, r_profile, r_events, r_situation,
           list_filter([
               CASE WHEN points_of(r_fin) > pts('CAP_FINANCIALS') THEN reason('CAP_FINANCIALS',
                   pts('CAP_FINANCIALS') - points_of(r_fin),
                   format('financial points capped at {} (were {})', pts('CAP_FINANCIALS'), points_of(r_fin))) END,
               CASE WHEN points_of(r_events) > pts('CAP_EVENTS') THEN reason('CAP_EVENTS',
                   pts('CAP_EVENTS') - points_of(r_events),
                   format('event points capped at {} (were {})', pts('CAP_EVENTS'), points_of(r_events))) END,
               CASE WHEN raw > pts('CAP_TOTAL') THEN reason('CAP_TOTAL', pts('CAP_TOTAL') - raw,
                   format('points capped at {} (were {})', pts('CAP_TOTAL'), raw)) END,
               CASE WHEN floor_code IS NOT NULL THEN reason(floor_code, greatest(floor - capped, 0),
                   format('juridical situation {} ({}): the score is at least {}', juridical_situation, js_description, floor)) END
           ], x -> x IS NOT NULL)) AS reasons
FROM t
UNION ALL
SELECT enterprise_number, pts('KBO_STOPPED'), 'register_only',
       [reason('KBO_STOPPED', pts('KBO_STOPPED'),
               format('left the active register in extract {} (snapshot {}); juridical situation then {}',
                      extract_number, snapshot_date, coalesce(juridical_situation, 'unknown')))]
FROM stopped;

COPY (
    SELECT enterprise_number, score::INTEGER AS score,
           CASE WHEN score >= pts('CATEGORY_CRITICAL') THEN 'critical'
                WHEN score >= pts('CATEGORY_HIGH') THEN 'high'
                WHEN score >= pts('CATEGORY_MODERATE') THEN 'moderate'
                ELSE 'low' END AS category,
           {model_version} AS model_version,
           data_completeness,
           -- highest points first, then by code
           list_transform(list_sort(list_transform(reasons, r -> {'k': -r.points, 'code': r.code, 'points': r.points, 'evidence': r.evidence})),
                          r -> {'code': r.code, 'points': r.points, 'evidence': r.evidence}) AS reasons
    FROM scored
    ORDER BY enterprise_number
) TO {out} (FORMAT parquet, COMPRESSION zstd);
