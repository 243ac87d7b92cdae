//! One enterprise's rows on two consecutive days → its part of the Update extract
//! (kbo-open-data.md "Update extracts"): per table, the keys whose rows changed go to the delete
//! file, and all current rows of those keys to the insert file.

/// Per data file (in `FILES` order): delete-file lines and insert-file lines.
pub struct Diff {
    pub deletes: [Vec<u8>; 7],
    pub inserts: [Vec<u8>; 7],
}

/// Key column of each table's delete file.
pub fn delete_header(table: &str) -> String {
    let key = match table {
        "enterprise" => "EnterpriseNumber",
        "establishment" => "EstablishmentNumber",
        "branch" => "Id",
        _ => "EntityNumber",
    };
    format!("\"{key}\"\n")
}

/// Files whose deletes are left out when a stop does not cascade (address.csv, activity.csv).
const NON_CASCADING: [usize; 2] = [3, 5];

/// The rows of one file grouped by their key (the first field), in order of first appearance.
fn groups(buf: &[u8]) -> Vec<(&[u8], Vec<&[u8]>)> {
    let mut out: Vec<(&[u8], Vec<&[u8]>)> = Vec::new();
    for line in buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let key = line.split(|&b| b == b',').next().unwrap_or(line);
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, rows)) => rows.push(line),
            None => out.push((key, vec![line])),
        }
    }
    out
}

fn sorted_rows<'a>(gs: &[(&'a [u8], Vec<&'a [u8]>)], key: &[u8]) -> Vec<&'a [u8]> {
    let mut r = gs
        .iter()
        .find(|g| g.0 == key)
        .map(|g| g.1.clone())
        .unwrap_or_default();
    r.sort_unstable();
    r
}

/// Compares one enterprise's rows before and after (generated rows hold no quoted newlines and
/// keys hold no commas, so lines and first fields are rows and keys).
pub fn diff(before: &[Vec<u8>; 8], after: &[Vec<u8>; 8], cascade: bool) -> Diff {
    let mut d = Diff {
        deletes: Default::default(),
        inserts: Default::default(),
    };
    for t in 0..7 {
        let old = groups(&before[t]);
        let new = groups(&after[t]);
        let mut keys: Vec<&[u8]> = old.iter().map(|g| g.0).collect();
        keys.extend(
            new.iter()
                .map(|g| g.0)
                .filter(|k| !old.iter().any(|g| g.0 == *k)),
        );
        for key in keys {
            let (o, n) = (sorted_rows(&old, key), sorted_rows(&new, key));
            if o == n {
                continue;
            }
            // A stop that does not cascade leaves its address and activity rows undeleted.
            let skipped = n.is_empty() && !cascade && NON_CASCADING.contains(&t);
            if !o.is_empty() && !skipped {
                d.deletes[t].extend_from_slice(key);
                d.deletes[t].push(b'\n');
            }
            // All current rows of the key, in their generated order.
            if let Some((_, rows)) = new.iter().find(|g| g.0 == key) {
                for r in rows {
                    d.inserts[t].extend_from_slice(r);
                    d.inserts[t].push(b'\n');
                }
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(rows: &[(usize, &str)]) -> [Vec<u8>; 8] {
        let mut f: [Vec<u8>; 8] = Default::default();
        for (t, r) in rows {
            f[*t].extend_from_slice(r.as_bytes());
            f[*t].push(b'\n');
        }
        f
    }

    #[test]
    fn changed_keys_are_deleted_and_reinserted_whole() {
        let before = files(&[
            (0, "\"0200.065.765\",\"AC\",\"000\""),
            (2, "\"0200.065.765\",\"2\",\"001\",\"Oud\""),
            (2, "\"0200.065.765\",\"2\",\"003\",\"Winkel\""),
            (5, "\"0200.065.765\",\"003\",\"2025\",\"01110\",\"MAIN\""),
        ]);
        let after = files(&[
            (0, "\"0200.065.765\",\"AC\",\"000\""),
            (2, "\"0200.065.765\",\"2\",\"001\",\"Nieuw\""),
            (2, "\"0200.065.765\",\"2\",\"003\",\"Winkel\""),
            (5, "\"0200.065.765\",\"003\",\"2025\",\"01110\",\"MAIN\""),
        ]);
        let d = diff(&before, &after, true);
        assert!(d.deletes[0].is_empty() && d.inserts[0].is_empty());
        assert_eq!(d.deletes[2], b"\"0200.065.765\"\n");
        assert_eq!(
            String::from_utf8_lossy(&d.inserts[2]),
            "\"0200.065.765\",\"2\",\"001\",\"Nieuw\"\n\"0200.065.765\",\"2\",\"003\",\"Winkel\"\n"
        );
        assert!(d.deletes[5].is_empty());
    }

    #[test]
    fn a_stop_without_cascade_keeps_address_and_activity_deletes_out() {
        let before = files(&[
            (0, "\"0200.065.765\",\"AC\""),
            (3, "\"0200.065.765\",\"REGO\""),
            (5, "\"0200.065.765\",\"003\""),
        ]);
        let after = files(&[]);
        let d = diff(&before, &after, false);
        assert_eq!(d.deletes[0], b"\"0200.065.765\"\n");
        assert!(d.deletes[3].is_empty() && d.deletes[5].is_empty());
        let d = diff(&before, &after, true);
        assert!(!d.deletes[3].is_empty() && !d.deletes[5].is_empty());
    }
}
