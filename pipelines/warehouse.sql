-- Builds the warehouse tables from one snapshot and the reference tables.
-- {snapshot} and {reference} are replaced by the folders (quoted for SQL) by `bce load` / `bce run`.
-- Row order is the order of the extract (DuckDB preserves insertion order).

CREATE TABLE enterprise    AS SELECT * FROM read_parquet({snapshot} || '/enterprise.parquet');
CREATE TABLE establishment AS SELECT * FROM read_parquet({snapshot} || '/establishment.parquet');
CREATE TABLE branch        AS SELECT * FROM read_parquet({snapshot} || '/branch.parquet');
CREATE TABLE denomination  AS SELECT * FROM read_parquet({snapshot} || '/denomination.parquet');
CREATE TABLE address       AS SELECT * FROM read_parquet({snapshot} || '/address.parquet');
CREATE TABLE contact       AS SELECT * FROM read_parquet({snapshot} || '/contact.parquet');
CREATE TABLE activity      AS SELECT * FROM read_parquet({snapshot} || '/activity.parquet');
CREATE TABLE rejects       AS SELECT * FROM read_parquet({snapshot} || '/rejects.parquet');

CREATE TABLE code                AS SELECT * FROM read_parquet({reference} || '/code.parquet');
CREATE TABLE nace_code           AS SELECT * FROM read_parquet({reference} || '/nace_code.parquet');
CREATE TABLE juridical_form      AS SELECT * FROM read_parquet({reference} || '/juridical_form.parquet');
CREATE TABLE juridical_situation AS SELECT * FROM read_parquet({reference} || '/juridical_situation.parquet');
CREATE TABLE activity_group      AS SELECT * FROM read_parquet({reference} || '/activity_group.parquet');
