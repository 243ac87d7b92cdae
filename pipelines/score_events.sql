-- The register events that count in the payment-risk score (src/score, spec/payment-risk.md
-- "events, last 12 months"), per enterprise, from the change events of the published extracts.
-- {snapshot_date}: ISO date of the scored snapshot; {window_months}: the model's EVT_WINDOW_MONTHS.
-- Before this file, src/score creates events_in (every events file given).

-- Change events of the window, per enterprise.
CREATE TEMP TABLE window_events AS
SELECT * FROM events_in
WHERE snapshot_date > ({snapshot_date}::DATE - to_months({window_months}))::DATE
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

-- Enterprises that left the active register in the window (those back in the snapshot are
-- dropped by src/score): scored by the KBO_STOPPED floor.
CREATE TEMP TABLE stopped AS
SELECT enterprise_number, max(extract_number) AS extract_number, max(snapshot_date) AS snapshot_date,
       arg_max(json_extract_string(data, '$.previous.juridical_situation'), extract_number) AS juridical_situation
FROM window_events
WHERE type = 'company.status_changed' AND json_extract_string(data, '$.current.status') = 'stopped'
GROUP BY ALL;

-- One row per enterprise with an event that counts.
CREATE TEMP TABLE score_events AS
SELECT coalesce(f.enterprise_number, c.enterprise_number) AS enterprise_number,
       coalesce(f.seat_moves, 0)::INTEGER AS seat_moves, f.seat_moved_in, f.struck_off_in, f.renamed_in,
       f.rename, f.form_changed_in, coalesce(c.n, 0)::INTEGER AS closed_count, c.last_in AS closed_in
FROM event_features f FULL JOIN closed_establishments c ON c.enterprise_number = f.enterprise_number;
