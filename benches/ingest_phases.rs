//! Where the ingest time goes, one phase at a time, single-threaded, on each data file of an
//! extract: inflate, inflate + sha256, csv tokenizing, typing into Arrow, Parquet encoding (zstd).
//!
//! cargo bench --bench ingest_phases -- EXTRACT.zip
//! (prints one line per file and phase: seconds and MB/s of CSV)

use bce::ingest::{typing, KeySet};
use bce::kbo::{self, Extract};
use parquet::arrow::ArrowWriter;
use sha2::{Digest, Sha256};

use std::time::Instant;

fn main() {
    let Some(path) = std::env::args().skip(1).find(|a| !a.starts_with("--")) else {
        eprintln!("usage: cargo bench --bench ingest_phases -- EXTRACT.zip");
        std::process::exit(2);
    };
    let extract = Extract::open(std::path::Path::new(&path)).expect("an extract");
    let meta = kbo::meta::parse(&extract.read_all("meta.csv").expect("meta.csv")).expect("meta");
    let mut keys = KeySet::new();
    let mut totals = [0f64; 5];
    println!(
        "{:<18} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "file", "MB", "inflate", "+sha256", "tokenize", "typing", "encode"
    );
    for def in &kbo::TABLES {
        // 1. inflate only, 2. inflate + sha256 (both straight from the zip entry, into a reused buffer).
        let stream = |hash: bool| {
            let t = Instant::now();
            extract
                .with_reader(def.file, |r| {
                    let mut h = Sha256::new();
                    let mut buf = vec![0u8; 1 << 20];
                    loop {
                        let n = r.read(&mut buf).unwrap();
                        if n == 0 {
                            break;
                        }
                        if hash {
                            h.update(&buf[..n]);
                        }
                    }
                })
                .unwrap();
            t.elapsed().as_secs_f64()
        };
        let inflate = stream(false);
        let hashed = stream(true);
        let mut bytes = Vec::with_capacity(extract.size(def.file).unwrap_or(0) as usize);
        extract
            .with_reader(def.file, |r| r.read_to_end(&mut bytes))
            .unwrap()
            .unwrap();
        // 3. tokenize, 4. type, 5. encode: one streaming pass over the bytes in memory, in batches of
        // 32 Ki recycled records as the ingest does, each phase with its own timer.
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(&bytes[..]);
        let mut head = csv::ByteRecord::new();
        rdr.read_byte_record(&mut head).unwrap();
        let header: Vec<String> = head
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        let refs: Vec<&str> = header.iter().map(String::as_str).collect();
        let binding = kbo::bind(def.columns, &refs).unwrap();
        let schema = typing::schema(def);
        let mut typer = typing::Typer::new(def, &binding, def.file, meta.extract_number);
        let mut own = def.unique_key.then(KeySet::new);
        let props = bce::ingest::writer_properties(def, 1);
        let mut w = ArrowWriter::try_new(std::io::sink(), schema.clone(), Some(props)).unwrap();
        let (mut tokenize, mut typing_s, mut encode) = (0.0, 0.0, 0.0);
        let mut batch = vec![csv::ByteRecord::new(); 32 * 1024];
        loop {
            let t = Instant::now();
            let mut n = 0;
            while n < batch.len() && rdr.read_byte_record(&mut batch[n]).unwrap() {
                n += 1;
            }
            tokenize += t.elapsed().as_secs_f64();
            if n == 0 {
                break;
            }
            let t = Instant::now();
            let b = typer
                .type_batch(&batch[..n], &keys, &mut own, schema.clone())
                .unwrap();
            typing_s += t.elapsed().as_secs_f64();
            let t = Instant::now();
            w.write(&b).unwrap();
            encode += t.elapsed().as_secs_f64();
        }
        let t = Instant::now();
        w.close().unwrap();
        encode += t.elapsed().as_secs_f64();
        if let Some(own) = own {
            keys.union(&own);
        }
        let mb = extract.size(def.file).unwrap_or(0) as f64 / 1e6;
        let phases = [inflate, hashed - inflate, tokenize, typing_s, encode];
        for (t, p) in totals.iter_mut().zip(phases) {
            *t += p;
        }
        println!(
            "{:<18} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            def.file, mb, phases[0], phases[1], phases[2], phases[3], phases[4]
        );
    }
    println!(
        "{:<18} {:>10} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
        "total (s, 1 core)", "", totals[0], totals[1], totals[2], totals[3], totals[4]
    );
}
