//! Small shared helpers for the SQL files in `pipelines/`: quoting and splitting into statements.

use std::path::Path;

/// A SQL string literal.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A path as an absolute SQL string literal (views and COPY targets must not depend on the cwd).
pub fn quote_path(p: &Path) -> String {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    quote(&abs.to_string_lossy())
}

/// The statements of a SQL file (split on `;` at line ends; the files keep one statement per `;`),
/// skipping those made only of comments.
pub fn statements(sql: &str) -> impl Iterator<Item = &str> {
    sql.split(";\n").map(str::trim).filter(|s| {
        s.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_quotes() {
        let sql = "-- a comment\nSELECT 1;\n-- only a comment;\nSELECT 'x;y';\n";
        let s: Vec<&str> = statements(sql).collect();
        assert_eq!(s, ["-- a comment\nSELECT 1", "SELECT 'x;y'"]);
        assert_eq!(quote("l'eau"), "'l''eau'");
    }
}
