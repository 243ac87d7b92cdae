-- Builds the warehouse from one snapshot and the reference tables.
-- {snapshot} and {reference} are replaced by the absolute folders (quoted for SQL) by `bce run` /
-- `bce load`; {data} by VIEW (default: the data tables read the immutable snapshot's Parquet files)
-- or TABLE (`--storage tables`: a self-contained copy). Row order is the extract's.

CREATE {data} enterprise    AS SELECT * FROM read_parquet({snapshot} || '/enterprise.parquet');
CREATE {data} establishment AS SELECT * FROM read_parquet({snapshot} || '/establishment.parquet');
CREATE {data} branch        AS SELECT * FROM read_parquet({snapshot} || '/branch.parquet');
CREATE {data} denomination  AS SELECT * FROM read_parquet({snapshot} || '/denomination.parquet');
CREATE {data} address       AS SELECT * FROM read_parquet({snapshot} || '/address.parquet');
CREATE {data} contact       AS SELECT * FROM read_parquet({snapshot} || '/contact.parquet');
CREATE {data} activity      AS SELECT * FROM read_parquet({snapshot} || '/activity.parquet');
-- Derived at ingest: each entity's main activity (src/kbo/activity.rs has the rule).
CREATE {data} main_activity AS SELECT * FROM read_parquet({snapshot} || '/main_activity.parquet');
CREATE TABLE rejects       AS SELECT * FROM read_parquet({snapshot} || '/rejects.parquet');

CREATE TABLE code                AS SELECT * FROM read_parquet({reference} || '/code.parquet');
CREATE TABLE nace_code           AS SELECT * FROM read_parquet({reference} || '/nace_code.parquet');
CREATE TABLE juridical_form      AS SELECT * FROM read_parquet({reference} || '/juridical_form.parquet');
CREATE TABLE juridical_situation AS SELECT * FROM read_parquet({reference} || '/juridical_situation.parquet');
CREATE TABLE activity_group      AS SELECT * FROM read_parquet({reference} || '/activity_group.parquet');
