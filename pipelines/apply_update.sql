-- Applies an Update extract to the previous snapshot (src/ingest/update.rs).
-- {base}: snapshot N-1, {out}: snapshot N, {ins} / {del}: the Update's insert and delete files, typed
-- (one Parquet file per table). Per table: delete every row whose key is in the delete file, then
-- insert the insert file (kbo-open-data.md "Update extracts"), plus the two rules of ARCHITECTURE.md.

-- Enterprises this Update removes: deleted and not re-inserted.
CREATE TEMP TABLE removed_enterprises AS
    SELECT enterprise_number AS k FROM read_parquet({del} || '/enterprise.parquet')
    EXCEPT SELECT enterprise_number FROM read_parquet({ins} || '/enterprise.parquet');

-- Entities whose child rows go, whatever the child delete files say: the removed enterprises, the
-- establishments and branches deleted, and those of the removed enterprises — unless re-inserted.
CREATE TEMP TABLE removed_owners AS
    SELECT k FROM removed_enterprises
    UNION SELECT establishment_number FROM read_parquet({del} || '/establishment.parquet')
    UNION SELECT branch_id FROM read_parquet({del} || '/branch.parquet')
    UNION SELECT establishment_number FROM read_parquet({base} || '/establishment.parquet')
        WHERE enterprise_number IN (SELECT k FROM removed_enterprises)
    UNION SELECT branch_id FROM read_parquet({base} || '/branch.parquet')
        WHERE enterprise_number IN (SELECT k FROM removed_enterprises)
    EXCEPT (SELECT enterprise_number FROM read_parquet({ins} || '/enterprise.parquet')
            UNION SELECT establishment_number FROM read_parquet({ins} || '/establishment.parquet')
            UNION SELECT branch_id FROM read_parquet({ins} || '/branch.parquet'));

-- @per-table
-- Then per table: {table}, its {key}, {unique} (enterprise, establishment, branch), the {owner} column
-- that points to an entity, the {cascade} set of owners whose rows go, the {owners} of snapshot N.

-- Keys deleted outright: the delete file, and for unique keys the re-inserted ones (no duplicates).
CREATE OR REPLACE TEMP TABLE direct AS
    SELECT {key} AS k FROM read_parquet({del} || '/{table}.parquet')
    UNION SELECT {key} FROM read_parquet({ins} || '/{table}.parquet') WHERE {unique};

COPY (
    SELECT * FROM read_parquet({base} || '/{table}.parquet')
    WHERE {key} NOT IN (SELECT k FROM direct) AND {owner} NOT IN (SELECT k FROM {cascade})
    UNION ALL
    SELECT * FROM read_parquet({ins} || '/{table}.parquet')
) TO {out_file} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 262144);

-- base rows, removed rows, removed only by the cascade rule, rows written, inserted orphans.
CREATE OR REPLACE TEMP TABLE counts AS
SELECT
    (SELECT count(*) FROM read_parquet({base} || '/{table}.parquet')) AS base_rows,
    r.removed,
    r.cascaded,
    (SELECT count(*) FROM read_parquet({out} || '/{table}.parquet')) AS written,
    (SELECT count(*) FROM read_parquet({ins} || '/{table}.parquet')
        WHERE {owner} NOT IN (SELECT k FROM {owners})) AS orphans
FROM (
    SELECT
        count(*) FILTER (WHERE d OR c) AS removed,
        count(*) FILTER (WHERE c AND NOT d) AS cascaded
    FROM (
        SELECT {key} IN (SELECT k FROM direct) AS d, {owner} IN (SELECT k FROM {cascade}) AS c
        FROM read_parquet({base} || '/{table}.parquet')
    )
) r;
