//! The filings CSV (payment-risk.md "Filings input"): `EnterpriseNumber, DepositDate,
//! FiscalYearEnd, Model, Equity, TotalAssets, ProfitLoss, Employees, CurrentAssets,
//! ShortTermDebt`, comma-separated, dates `dd-mm-yyyy`, columns bound by header name.
//!
//! Pure reading, shared by the score (the accounts of every enterprise) and the diff (the deposits
//! of the window, `company.filing_deposited`). Input: the file's path. Output: its records, handed
//! block by block. Invariant: the file is read in blocks cut at a newline outside quotes (an even
//! number of `"` before it); blocks are parsed in parallel and their results applied in file
//! order, so the result is that of one sequential pass.

use rayon::prelude::*;
use std::io::Read;
use std::path::Path;

/// The columns, in the order [`Block::for_each_record`]'s `columns` index them.
pub const COLUMNS: [&str; 10] = [
    "EnterpriseNumber",
    "DepositDate",
    "FiscalYearEnd",
    "Model",
    "Equity",
    "TotalAssets",
    "ProfitLoss",
    "Employees",
    "CurrentAssets",
    "ShortTermDebt",
];

/// Bytes read per block.
const BLOCK: u64 = 4 << 20;

/// A block of whole records of the file.
pub struct Block<'a> {
    bytes: &'a [u8],
    /// The line number of the block's first line.
    first_line: u64,
    /// Where each of [`COLUMNS`] is in a record.
    columns: &'a [usize; 10],
}

/// One record of a block: its fields by [`COLUMNS`] index, its line, its raw text.
pub struct Record<'a> {
    rec: &'a csv::ByteRecord,
    columns: &'a [usize; 10],
    pub line: u64,
    /// The record as it is in the file, with its line end.
    pub raw: &'a [u8],
}

impl Record<'_> {
    /// Field `k` of [`COLUMNS`] (unquoted; empty when the row is short).
    pub fn field(&self, k: usize) -> &[u8] {
        self.rec.get(self.columns[k]).unwrap_or(b"")
    }
}

impl Block<'_> {
    /// Calls `f` for every record, in order. A record the CSV rules cannot read is an error
    /// naming its line.
    pub fn for_each_record(&self, mut f: impl FnMut(&Record)) -> Result<(), String> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(self.bytes);
        let mut rec = csv::ByteRecord::new();
        loop {
            let start = rdr.position().byte() as usize;
            match rdr.read_byte_record(&mut rec) {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(x) => {
                    let at = x.position().map_or(0, |p| p.line());
                    return Err(format!(
                        "line {}: {x}",
                        self.first_line + at.saturating_sub(1)
                    ));
                }
            }
            let end = rdr.position().byte() as usize;
            let line = self.first_line + rec.position().map_or(1, |p| p.line()) - 1;
            f(&Record {
                rec: &rec,
                columns: self.columns,
                line,
                raw: self.bytes.get(start..end).unwrap_or(b""),
            });
        }
    }
}

/// Reads the file at `path`: `parse` runs on blocks in parallel, `apply` gets their results in
/// file order. Returns the header line (with its line end). Errors: the file cannot be read, is
/// empty, lacks a column, or holds a record the CSV rules cannot read (`parse` may fail too).
pub fn read<T: Send>(
    path: &Path,
    parse: impl Fn(&Block) -> Result<T, String> + Sync,
    apply: impl FnMut(T),
) -> Result<Vec<u8>, String> {
    read_in_blocks(path, BLOCK, parse, apply)
}

fn read_in_blocks<T: Send>(
    path: &Path,
    block: u64,
    parse: impl Fn(&Block) -> Result<T, String> + Sync,
    mut apply: impl FnMut(T),
) -> Result<Vec<u8>, String> {
    let threads = rayon::current_num_threads().max(1);
    let mut f = std::fs::File::open(path).map_err(|x| x.to_string())?;
    let mut carry: Vec<u8> = Vec::new();
    // The line number of the first line of the next block, and once the header is read, the
    // columns and the header line.
    type Header = ([usize; 10], Vec<u8>);
    let (mut line, mut header): (u64, Option<Header>) = (1, None);
    let mut eof = false;
    while !eof {
        let mut wave: Vec<(u64, Vec<u8>)> = Vec::new();
        while wave.len() < threads * 2 && !eof {
            let mut buf = std::mem::take(&mut carry);
            let got = (&mut f)
                .take(block)
                .read_to_end(&mut buf)
                .map_err(|x| x.to_string())?;
            eof = got == 0;
            if !eof {
                let cut = record_end(&buf);
                carry = buf.split_off(cut);
            }
            if buf.is_empty() {
                continue;
            }
            let lines = memchr::memchr_iter(b'\n', &buf).count() as u64;
            wave.push((line, buf));
            line += lines;
        }
        if header.is_none() {
            let Some((first, buf)) = wave.first_mut() else {
                break;
            };
            let (c, header_end) = columns(buf)?;
            header = Some((c, buf.drain(..header_end).collect()));
            *first += 1;
        }
        let Some((col, _)) = &header else { break };
        let parsed: Vec<T> = wave
            .par_iter()
            .map(|(first, buf)| {
                parse(&Block {
                    bytes: buf,
                    first_line: *first,
                    columns: col,
                })
            })
            .collect::<Result<_, String>>()?;
        parsed.into_iter().for_each(&mut apply);
    }
    header
        .map(|(_, h)| h)
        .ok_or_else(|| "the file is empty".to_string())
}

/// Where the last whole record of `buf` ends: after its last newline with an even number of
/// quotes before it (0 when there is none; the block then grows by the next read).
fn record_end(buf: &[u8]) -> usize {
    let mut quotes_after = 0;
    let mut end = buf.len();
    let total = memchr::memchr_iter(b'"', buf).count();
    while let Some(nl) = memchr::memrchr(b'\n', &buf[..end]) {
        quotes_after += memchr::memchr_iter(b'"', &buf[nl + 1..end]).count();
        if (total - quotes_after).is_multiple_of(2) {
            return nl + 1;
        }
        end = nl;
    }
    0
}

/// The positions of the ten columns in the header line, and where the header ends.
fn columns(buf: &[u8]) -> Result<([usize; 10], usize), String> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(buf);
    let mut header = csv::ByteRecord::new();
    if !rdr
        .read_byte_record(&mut header)
        .map_err(|x| x.to_string())?
    {
        return Err("the file is empty".into());
    }
    let mut col = [0usize; 10];
    for (k, name) in COLUMNS.iter().enumerate() {
        col[k] = header
            .iter()
            .position(|h| h == name.as_bytes())
            .ok_or_else(|| format!("line 1: no column {name}"))?;
    }
    Ok((col, rdr.position().byte() as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_end_after_a_newline_outside_quotes() {
        assert_eq!(record_end(b"a,b\nc,d\ne"), 8);
        assert_eq!(record_end(b"a,\"b\nc\",d\ne,\"f\ng"), 10);
        assert_eq!(record_end(b"a,\"b\nc"), 0);
        assert_eq!(record_end(b"no newline"), 0);
    }

    /// Whatever the block size, the records come in file order with their line numbers and
    /// their raw text: the header and the raw records put together are the file.
    #[test]
    fn records_come_in_order_with_their_lines_and_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("filings.csv");
        let mut text = format!("Extra,{}\n", COLUMNS.join(","));
        let mut expected = Vec::new();
        let mut line = 2;
        for i in 0..40 {
            // Every fifth record has a quoted newline (it spans two lines).
            let model = if i % 5 == 0 { "\"M\nIC\"" } else { "MIC" };
            text.push_str(&format!(
                "x,0200.000.{i:03},01-01-2020,31-12-2019,{model},1,2,3,4,5,6\n"
            ));
            expected.push((line, format!("0200.000.{i:03}")));
            line += if i % 5 == 0 { 2 } else { 1 };
        }
        std::fs::write(&path, &text).unwrap();
        for block in [7, 64, 1 << 20] {
            let mut seen = Vec::new();
            let mut raw = Vec::new();
            let header = read_in_blocks(
                &path,
                block,
                |b| {
                    let mut v = Vec::new();
                    b.for_each_record(|r| {
                        let n = String::from_utf8_lossy(r.field(0)).into_owned();
                        v.push((r.line, n, r.raw.to_vec()));
                    })?;
                    Ok(v)
                },
                |v| {
                    for (l, n, r) in v {
                        seen.push((l, n));
                        raw.extend(r);
                    }
                },
            )
            .unwrap();
            assert_eq!(seen, expected, "block {block}");
            assert_eq!([header, raw].concat(), text.as_bytes(), "block {block}");
        }
    }

    #[test]
    fn a_missing_column_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("filings.csv");
        std::fs::write(
            &path,
            "EnterpriseNumber,DepositDate\n0200.000.043,01-01-2020\n",
        )
        .unwrap();
        let e = read(&path, |_| Ok(()), |_| {}).unwrap_err();
        assert_eq!(e, "line 1: no column FiscalYearEnd");
    }
}
