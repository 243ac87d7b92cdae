//! CSV records of a KBO file, tokenized in place (kbo-open-data.md "Format": comma-separated, text
//! in double quotes with embedded quotes doubled, quoted newlines, LF line endings).
//!
//! Input: a buffer holding the file's bytes from a record boundary on. Output: the complete
//! records at its start, as field ranges into that same buffer ([`Records`]); the bytes of an
//! unfinished last record are left for the caller to carry in front of the next bytes
//! ([`Tokenizer::tokenize`] says where they start). Nothing is copied for the usual field; a field
//! with a doubled quote (or text after its closing quote) is rewritten in place, over its own
//! bytes, and the bytes it no longer needs become spaces, so a buffer that was valid UTF-8 stays
//! valid and can be checked once as a whole.
//!
//! Invariant: the records and fields are exactly those of the `csv` crate's reader (its default
//! dialect, `flexible`, no header handling) for the same bytes, wherever the buffers are cut —
//! blank lines skipped, `\r` and `\n` both end a record — and each record carries the line it
//! starts on (1-based). A property test holds the tokenizer to the `csv` crate.

use memchr::{memchr2, memchr3};

/// Bytes looked at word by word before handing over to `memchr`: most KBO fields are shorter
/// (numbers, dates, codes), and for them memchr's vector setup cost more than the search.
const SHORT: usize = 16;

/// A mask with the high bit set in each byte of `w` equal to `b`, exact up to the first such
/// byte (the borrow of the classic zero-byte test only reaches bytes after it).
#[inline]
fn eq_mask(w: u64, b: u8) -> u64 {
    let x = w ^ (0x0101_0101_0101_0101u64 * b as u64);
    x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080
}

/// The first position in `hay` of a byte of `set`: the first [`SHORT`] bytes a word at a time,
/// the rest by `memchr`.
#[inline]
fn find<const N: usize>(set: [u8; N], hay: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < SHORT {
        let Some(w) = hay.get(i..i + 8).and_then(|w| w.first_chunk::<8>()) else {
            break;
        };
        let w = u64::from_le_bytes(*w);
        let m = set.iter().fold(0, |m, &b| m | eq_mask(w, b));
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if hay.len() - i < 8 {
        return hay[i..].iter().position(|c| set.contains(c)).map(|k| i + k);
    }
    let rest = &hay[i..];
    match N {
        2 => memchr2(set[0], set[1], rest),
        _ => memchr3(set[0], set[1], set[N - 1], rest),
    }
    .map(|k| i + k)
}

/// The records tokenized from one buffer: field ranges, record after record.
#[derive(Debug, Default)]
pub struct Records {
    fields: Vec<(usize, usize)>,
    /// For each record, the index of its first field in `fields`; one more entry at the end.
    starts: Vec<usize>,
    /// For each record, the line it starts on.
    lines: Vec<u64>,
}

impl Records {
    pub fn clear(&mut self) {
        self.fields.clear();
        self.starts.clear();
        self.lines.clear();
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The field ranges of record `i` (byte ranges into the tokenized buffer).
    pub fn fields(&self, i: usize) -> &[(usize, usize)] {
        match (self.starts.get(i), self.starts.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.fields[a..b],
            _ => &[],
        }
    }

    /// Record `i`'s fields as text, invalid UTF-8 shown as U+FFFD (a header row).
    pub fn texts(&self, i: usize, buf: &[u8]) -> Vec<String> {
        self.fields(i)
            .iter()
            .map(|&(a, b)| String::from_utf8_lossy(&buf[a..b]).into_owned())
            .collect()
    }

    /// The line record `i` starts on.
    pub fn line(&self, i: usize) -> u64 {
        self.lines.get(i).copied().unwrap_or(0)
    }

    /// Starts a record on `line`.
    fn open(&mut self, line: u64) {
        if self.starts.is_empty() {
            self.starts.push(0);
        }
        self.lines.push(line);
    }

    fn close(&mut self) {
        self.starts.push(self.fields.len());
    }

    fn abandon(&mut self) {
        self.lines.pop();
        let first = self.starts.last().copied().unwrap_or(0);
        self.fields.truncate(first);
    }
}

/// Tokenizes a file buffer after buffer, keeping the line count between them.
#[derive(Debug)]
pub struct Tokenizer {
    /// The line of the first byte of the next buffer.
    line: u64,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Tokenizer { line: 1 }
    }
}

/// Where the fast scan of a record ended.
enum Scan {
    /// The record ends at this byte (its terminator, or the buffer's end at end of input); `plain`:
    /// every field is a plain slice of the buffer (no doubled quote, no text after a closing
    /// quote), so the field ranges are final.
    Done {
        end: usize,
        newlines: u64,
        plain: bool,
    },
    /// The buffer ends inside the record.
    Short,
}

impl Tokenizer {
    /// The line the next buffer starts on.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// Appends the complete records at the start of `buf` to `out` (rewriting quoted fields in
    /// place where needed) and returns how many bytes they used; `buf[returned..]` is an
    /// unfinished record to carry in front of the next bytes. With `eof`, the buffer is the end of
    /// the file: everything is a record and the whole buffer is used.
    pub fn tokenize(&mut self, buf: &mut [u8], eof: bool, out: &mut Records) -> usize {
        let n = buf.len();
        let mut p = 0;
        loop {
            // Blank lines between records are skipped (as the csv crate does).
            while p < n && (buf[p] == b'\n' || buf[p] == b'\r') {
                self.line += (buf[p] == b'\n') as u64;
                p += 1;
            }
            if p == n {
                return n;
            }
            // The usual records, 64 bytes at a time; the first one it leaves (a blank line, a
            // quoted newline, a doubled quote, a CR, the buffer's last bytes) the careful way.
            let q = blocks(buf, p, &mut self.line, out);
            if q > p {
                p = q;
                continue;
            }
            out.open(self.line);
            match scan(buf, p, eof, &mut out.fields) {
                Scan::Short => {
                    out.abandon();
                    return p;
                }
                Scan::Done {
                    end,
                    newlines,
                    plain,
                } => {
                    if !plain {
                        let first = out.starts.last().copied().unwrap_or(0);
                        out.fields.truncate(first);
                        rewrite(buf, p, end, &mut out.fields);
                    }
                    out.close();
                    self.line += newlines;
                    if end < n {
                        self.line += (buf[end] == b'\n') as u64;
                        p = end + 1;
                    } else {
                        return n;
                    }
                }
            }
        }
    }
}

/// Where in 64 bytes the quotes, commas, LFs and CRs are: a bit a byte, in four masks.
#[inline]
fn masks(b: &[u8; 64]) -> [u64; 4] {
    const SET: [u8; 4] = [b'"', b',', b'\n', b'\r'];
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    {
        use safe_arch::{cmp_eq_mask_i8_m256i, m256i, move_mask_i8_m256i, set_splat_i8_m256i};
        let half = |h: &[u8]| -> [u64; 4] {
            let v = m256i::from(<[u8; 32]>::try_from(h).unwrap_or([0; 32]));
            SET.map(|c| {
                let eq = cmp_eq_mask_i8_m256i(v, set_splat_i8_m256i(c as i8));
                move_mask_i8_m256i(eq) as u32 as u64
            })
        };
        let (lo, hi) = b.split_at(32);
        let (lo, hi) = (half(lo), half(hi));
        std::array::from_fn(|k| lo[k] | hi[k] << 32)
    }
    #[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
    {
        use safe_arch::{cmp_eq_mask_i8_m128i, m128i, move_mask_i8_m128i, set_splat_i8_m128i};
        let mut out = [0u64; 4];
        for (k, q) in b.chunks_exact(16).enumerate() {
            let v = m128i::from(<[u8; 16]>::try_from(q).unwrap_or([0; 16]));
            for (m, c) in out.iter_mut().zip(SET) {
                let eq = cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(c as i8));
                *m |= (move_mask_i8_m128i(eq) as u16 as u64) << (16 * k);
            }
        }
        out
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut out = [0u64; 4];
        for (i, &x) in b.iter().enumerate() {
            for (m, c) in out.iter_mut().zip(SET) {
                *m |= ((x == c) as u64) << i;
            }
        }
        out
    }
}

/// Bit i set when an odd number of bits `0..=i` of `x` are: with `x` the quotes, the bytes from
/// an opening quote up to (not including) its closing one.
#[inline]
fn prefix_xor(mut x: u64) -> u64 {
    for k in [1, 2, 4, 8, 16, 32] {
        x ^= x << k;
    }
    x
}

/// Tokenizes the records from `p` (a record start) that need no care — every field unquoted and
/// without quotes, or quoted without a quote or newline inside; no CR; LF-terminated — reading
/// 64 bytes at a time: where the delimiters are comes from masks, not from a walk over the bytes.
/// Stops at the first record it cannot vouch for, or that does not end 64 bytes before the
/// buffer's end, and returns its start (`p` if it took none). A field is judged at its end by the
/// quotes it holds: none, or exactly its first and last byte; anything else (which may also have
/// hidden delimiters from the masks) leaves its record to [`scan`].
fn blocks(buf: &[u8], p: usize, line: &mut u64, out: &mut Records) -> usize {
    let mut record = p;
    let mut field = p;
    // Quotes before the block, and before the current field.
    let (mut quotes, mut field_quotes) = (0u32, 0u32);
    // All ones when the block starts inside quotes.
    let mut carry = 0u64;
    let mut at = p;
    let mut open = false;
    while let Some(block) = buf.get(at..at + 64).and_then(|b| b.first_chunk::<64>()) {
        let [q, c, lf, cr] = masks(block);
        let inside = prefix_xor(q) ^ carry;
        carry = ((inside as i64) >> 63) as u64;
        if cr != 0 || lf & inside != 0 {
            break;
        }
        let mut delims = (c | lf) & !inside;
        while delims != 0 {
            let k = delims.trailing_zeros();
            delims &= delims - 1;
            let d = at + k as usize;
            let before = quotes + (q & ((1u64 << k) - 1)).count_ones();
            let is_lf = lf >> k & 1 == 1;
            if !open {
                if is_lf && d == record {
                    // A blank line: the caller skips it.
                    return record;
                }
                out.open(*line);
                open = true;
            }
            let range = match before - field_quotes {
                0 => (field, d),
                2 if d >= field + 2 && buf[field] == b'"' && buf[d - 1] == b'"' => {
                    (field + 1, d - 1)
                }
                _ => {
                    out.abandon();
                    return record;
                }
            };
            out.fields.push(range);
            field = d + 1;
            field_quotes = before;
            if is_lf {
                out.close();
                *line += 1;
                record = field;
                open = false;
            }
        }
        quotes += q.count_ones();
        at += 64;
    }
    if open {
        out.abandon();
    }
    record
}

/// Finds the end of the record starting at `p` (a byte that is not a terminator), pushing its
/// field ranges; they are final only if the scan says `plain`.
fn scan(buf: &[u8], mut p: usize, eof: bool, fields: &mut Vec<(usize, usize)>) -> Scan {
    let n = buf.len();
    let mut newlines = 0;
    let mut plain = true;
    loop {
        if p == n {
            // The buffer ended right after a delimiter: at end of input, an empty last field.
            if !eof {
                return Scan::Short;
            }
            fields.push((p, p));
            return Scan::Done {
                end: n,
                newlines,
                plain,
            };
        }
        let mut start = p;
        if buf[p] == b'"' {
            start = p + 1;
            let mut q = start;
            // The closing quote: a quote not followed by another one.
            let close = loop {
                match find([b'"', b'\n'], &buf[q..]) {
                    None => {
                        if !eof {
                            return Scan::Short;
                        }
                        // End of input inside quotes: the field runs to the end.
                        fields.push((start, n));
                        return Scan::Done {
                            end: n,
                            newlines,
                            plain,
                        };
                    }
                    Some(k) => {
                        let at = q + k;
                        if buf[at] == b'\n' {
                            newlines += 1;
                            q = at + 1;
                        } else if at + 1 == n {
                            if !eof {
                                return Scan::Short;
                            }
                            break at;
                        } else if buf[at + 1] == b'"' {
                            plain = false;
                            q = at + 2;
                        } else {
                            break at;
                        }
                    }
                }
            };
            p = close + 1;
            if p == n || matches!(buf[p], b',' | b'\n' | b'\r') {
                fields.push((start, close));
            } else {
                // Text after the closing quote belongs to the field (csv keeps it): up to the
                // next delimiter or terminator.
                plain = false;
                match find([b',', b'\n', b'\r'], &buf[p..]) {
                    Some(k) => p += k,
                    None if eof => p = n,
                    None => return Scan::Short,
                }
                fields.push((start, p));
            }
        } else {
            match find([b',', b'\n', b'\r'], &buf[p..]) {
                Some(k) => p += k,
                None if eof => p = n,
                None => return Scan::Short,
            }
            fields.push((start, p));
        }
        // p is at a delimiter, a terminator, or the end of input.
        if p < n && buf[p] == b',' {
            p += 1;
            continue;
        }
        return Scan::Done {
            end: p,
            newlines,
            plain,
        };
    }
}

/// Re-reads the record `buf[start..end]` (`end` at its terminator or the end of input) byte by
/// byte with the csv crate's state machine, writing each field's bytes in place — the output never
/// overtakes the input, since quotes are only removed — and blanking what is left over.
fn rewrite(buf: &mut [u8], start: usize, end: usize, fields: &mut Vec<(usize, usize)>) {
    #[derive(Clone, Copy, PartialEq)]
    enum S {
        StartField,
        InField,
        InQuoted,
        /// A quote seen inside a quoted field: doubled, or the closing one.
        QuoteInQuoted,
    }
    let mut s = S::StartField;
    let mut dst = start;
    let mut field = start;
    for src in start..end {
        let c = buf[src];
        let mut put = |b: u8| {
            buf[dst] = b;
            dst += 1;
        };
        s = match (s, c) {
            (S::StartField, b'"') => S::InQuoted,
            (S::StartField | S::InField | S::QuoteInQuoted, b',') => {
                fields.push((field, dst));
                field = dst;
                S::StartField
            }
            (S::StartField | S::InField, _) => {
                put(c);
                S::InField
            }
            (S::InQuoted, b'"') => S::QuoteInQuoted,
            (S::InQuoted, _) => {
                put(c);
                S::InQuoted
            }
            (S::QuoteInQuoted, b'"') => {
                put(b'"');
                S::InQuoted
            }
            (S::QuoteInQuoted, _) => {
                put(c);
                S::InField
            }
        };
    }
    fields.push((field, dst));
    // Removed quotes leave bytes behind; spaces keep the buffer valid UTF-8 where it was.
    buf[dst..end].fill(b' ');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (line, fields) of every record, tokenizing `input` in buffers cut at `cuts`.
    fn ours(input: &[u8], cuts: &[usize]) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut t = Tokenizer::default();
        let mut got = Vec::new();
        let mut carry: Vec<u8> = Vec::new();
        let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
        bounds.sort_unstable();
        bounds.push(input.len());
        let mut from = 0;
        for (i, &to) in bounds.iter().enumerate() {
            carry.extend_from_slice(&input[from..to]);
            from = to;
            let eof = i + 1 == bounds.len();
            let mut recs = Records::default();
            let used = t.tokenize(&mut carry, eof, &mut recs);
            for r in 0..recs.len() {
                let f = recs
                    .fields(r)
                    .iter()
                    .map(|&(a, b)| carry[a..b].to_vec())
                    .collect();
                got.push((recs.line(r), f));
            }
            carry.drain(..used);
            if eof {
                assert!(carry.is_empty());
            }
        }
        got
    }

    fn theirs(input: &[u8]) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut got = Vec::new();
        let mut rec = csv::ByteRecord::new();
        while rdr.read_byte_record(&mut rec).unwrap_or(false) {
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            got.push((line, rec.iter().map(<[u8]>::to_vec).collect()));
        }
        got
    }

    fn fields_only(v: Vec<(u64, Vec<Vec<u8>>)>) -> Vec<Vec<Vec<u8>>> {
        v.into_iter().map(|(_, f)| f).collect()
    }

    #[test]
    fn kbo_quirks() {
        let input = b"\"EntityNumber\",\"Name\",\"Start\"\n\
            \"0200.065.765\",\"la \"\"yellow\"\" cake\",09-08-1960\n\
            \"0200.065.766\",\"two\nlines\",,\n\
            \"0200.065.767\",\"\",\"x\"";
        let got = ours(input, &[]);
        assert_eq!(got, theirs(input));
        assert_eq!(got.len(), 4);
        assert_eq!(got[1].1[1], b"la \"yellow\" cake".to_vec());
        assert_eq!(got[2].1[1], b"two\nlines".to_vec());
        assert_eq!(got[2].1.len(), 4);
        assert_eq!(got[3].1[1], b"".to_vec());
        assert_eq!(
            got.iter().map(|r| r.0).collect::<Vec<_>>(),
            vec![1, 2, 3, 5],
            "a record starts on its own line, counting quoted newlines"
        );
    }

    #[test]
    fn rewritten_fields_leave_valid_utf8() {
        let mut buf = "\"é\"\"\",\"x\"é,\"ü\"\n".as_bytes().to_vec();
        let mut recs = Records::default();
        let used = Tokenizer::default().tokenize(&mut buf, false, &mut recs);
        assert_eq!(used, buf.len());
        let f: Vec<&str> = recs
            .fields(0)
            .iter()
            .map(|&(a, b)| std::str::from_utf8(&buf[a..b]).unwrap_or("?"))
            .collect();
        assert_eq!(f, vec!["é\"", "xé", "ü"]);
        assert!(std::str::from_utf8(&buf).is_ok());
    }

    /// The masks (AVX2, SSE2 or plain, as built) mark exactly the bytes they name.
    #[test]
    fn masks_mark_their_bytes() {
        let mut b = [0u8; 64];
        for (i, x) in b.iter_mut().enumerate() {
            *x = b"\",\n\ra\xC3"[i * 7 % 6];
        }
        let got = masks(&b);
        for (k, c) in [b'"', b',', b'\n', b'\r'].into_iter().enumerate() {
            let want = (0..64).filter(|&i| b[i] == c).fold(0u64, |m, i| m | 1 << i);
            assert_eq!(got[k], want, "byte {c}");
        }
        // Quotes at 2 and 5: inside from the opening one up to the closing one.
        assert_eq!(prefix_xor(0b10_0100), 0b1_1100);
        assert_eq!(prefix_xor(1 << 60), !0 << 60);
    }

    #[test]
    fn an_unfinished_record_is_left_whole() {
        let mut buf = b"\"a\",\"b\"\n\"c\",\"d\nstill".to_vec();
        let mut t = Tokenizer::default();
        let mut recs = Records::default();
        let used = t.tokenize(&mut buf, false, &mut recs);
        assert_eq!((recs.len(), used), (1, 8));
        assert_eq!(t.line(), 2);
        // A closing quote as the last byte might be the first of a doubled one.
        let mut buf = b"\"a\",\"b\"".to_vec();
        let mut recs = Records::default();
        assert_eq!(Tokenizer::default().tokenize(&mut buf, false, &mut recs), 0);
        assert!(recs.is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Short inputs of every byte that matters ([`same_records`]).
        #[test]
        fn same_as_the_csv_crate(
            input in proptest::collection::vec(
                prop_oneof![
                    Just(b'"'), Just(b','), Just(b'\n'), Just(b'\r'), Just(b'a'), Just(b'0'),
                    Just(0xC3u8), Just(0xA9u8),
                ],
                0..60,
            ),
            cuts in proptest::collection::vec(0usize..60, 0..4),
        ) {
            same_records(&input, &cuts)?;
        }

        /// The same over longer inputs of KBO-like records (mostly well-formed, so that the
        /// 64-byte block path takes most of them), with the odd quirk among them.
        #[test]
        fn same_as_the_csv_crate_in_blocks(
            input in proptest::collection::vec(
                prop_oneof![
                    8 => Just(&b"\"0200.065.765\","[..]), 8 => Just(&b"\"MAIN\""[..]),
                    6 => Just(&b","[..]), 4 => Just(&b"\n"[..]), 4 => Just(&b"01-02-1995"[..]),
                    2 => Just(&b"\"\""[..]), 2 => Just(&b"abc"[..]), 2 => Just(&b"\"a,b\""[..]),
                    1 => Just(&b"\""[..]), 1 => Just(&b"\r"[..]), 1 => Just(&b"\"x\ny\""[..]),
                    1 => Just(&b"\"a\"\"b\""[..]), 1 => Just(&b"\n\n"[..]), 1 => Just(&b"\"q\"z"[..]),
                    1 => Just(&b"\xC3\xA9"[..]),
                ],
                0..120,
            ).prop_map(|parts| parts.concat()),
            cuts in proptest::collection::vec(0usize..1200, 0..4),
        ) {
            same_records(&input, &cuts)?;
        }
    }

    /// Same records and fields as the csv crate, wherever the buffers are cut; same lines
    /// where the csv crate's (the line after the previous record) is the record's own line.
    fn same_records(input: &[u8], cuts: &[usize]) -> Result<(), TestCaseError> {
        let expected = theirs(input);
        let got = ours(input, cuts);
        prop_assert_eq!(fields_only(got.clone()), fields_only(expected.clone()));
        let simple_lines = !input.contains(&b'\r')
            && !input.windows(2).any(|w| w == b"\n\n")
            && input.first() != Some(&b'\n');
        if simple_lines {
            prop_assert_eq!(got, expected);
        }
        Ok(())
    }
}
