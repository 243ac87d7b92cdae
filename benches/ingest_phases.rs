//! Where the ingest time goes, one phase at a time, single-threaded, on each data file of an
//! extract: inflate, inflate + sha256, tokenizing (kbo::records), typing into Arrow, Parquet
//! encoding (zstd), and the main-activity derivation from the typed activity batches.
//!
//! cargo bench --bench ingest_phases -- EXTRACT.zip [--only TABLE]
//! (prints one line per file and phase: seconds and MB/s of CSV)

use bce::ingest::{derived, typing, KeySet};
use bce::kbo::activity::MainActivities;
use bce::kbo::{self, Extract};
use bce::parquet_io::parallel::ParallelWriter;
use sha2::{Digest, Sha256};

use std::time::Instant;

fn main() {
    let Some(path) = std::env::args().skip(1).find(|a| a.ends_with(".zip")) else {
        eprintln!("usage: cargo bench --bench ingest_phases -- EXTRACT.zip");
        std::process::exit(2);
    };
    // `--only activity`: one table (its rows are then all orphans: the same work).
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let extract = Extract::open(std::path::Path::new(&path)).expect("an extract");
    let meta = kbo::meta::parse(&extract.read_all("meta.csv").expect("meta.csv")).expect("meta");
    let mut keys = KeySet::new();
    let mut totals = [0f64; 6];
    println!(
        "{:<18} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "file", "MB", "inflate", "+sha256", "tokenize", "typing", "encode", "main act"
    );
    for def in &kbo::TABLES {
        if only.as_deref().is_some_and(|t| t != def.name) {
            continue;
        }
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
        // 3. tokenize, 4. type, 5. encode: one streaming pass over the bytes in memory, in 1 MB
        // buffers and batches of up to 32 Ki records as the ingest does, each phase with its own
        // timer (the UTF-8 check of a buffer counts as typing).
        let (mut tokenize, mut typing_s, mut encode, mut main_s) = (0.0, 0.0, 0.0, 0.0);
        // The activity table's batches also feed the main-activity derivation (a thread of its
        // own in the ingest, timed here on this one).
        let mut mains = (def.name == "activity").then(MainActivities::new);
        let mut tok = kbo::records::Tokenizer::default();
        let mut recs = kbo::records::Records::default();
        let mut buf: Vec<u8> = Vec::new();
        let mut pos = 0;
        let mut state = None;
        while pos < bytes.len() || !buf.is_empty() {
            let to = (pos + (1 << 20)).min(bytes.len());
            buf.extend_from_slice(&bytes[pos..to]);
            pos = to;
            let eof = pos == bytes.len();
            let t = Instant::now();
            recs.clear();
            let used = tok.tokenize(&mut buf, eof, &mut recs);
            tokenize += t.elapsed().as_secs_f64();
            let mut first = 0;
            if state.is_none() {
                let header = recs.texts(0, &buf);
                let refs: Vec<&str> = header.iter().map(String::as_str).collect();
                let binding = Box::leak(Box::new(kbo::bind(def.columns, &refs).unwrap()));
                let schema = typing::batch_schema(def);
                let typer = typing::Typer::new(def, binding, def.file, meta.extract_number);
                let props = bce::ingest::writer_properties(def, 1);
                // No encoder thread: each row group is encoded in `write`, on this thread.
                let w =
                    ParallelWriter::new(std::io::sink(), typing::schema(def), props, 0, 1 << 20)
                        .unwrap();
                state = Some((schema, typer, w, def.unique_key.then(KeySet::new)));
                first = 1;
            }
            let Some((schema, typer, w, own)) = state.as_mut() else {
                break;
            };
            let t = Instant::now();
            let text = std::str::from_utf8(&buf[..used]).ok();
            typing_s += t.elapsed().as_secs_f64();
            let mut i = first;
            while i < recs.len() {
                let end = (i + 32 * 1024).min(recs.len());
                let t = Instant::now();
                let b = typer
                    .type_records(&buf, text, &recs, i..end, &keys, own, schema.clone())
                    .unwrap();
                typing_s += t.elapsed().as_secs_f64();
                if let Some(m) = mains.as_mut() {
                    let t = Instant::now();
                    derived::observe(m, &b).unwrap();
                    main_s += t.elapsed().as_secs_f64();
                }
                let t = Instant::now();
                w.write(b).unwrap();
                encode += t.elapsed().as_secs_f64();
                i = end;
            }
            buf.drain(..used);
            if eof {
                break;
            }
        }
        let Some((_, _, w, own)) = state else {
            continue;
        };
        let t = Instant::now();
        w.close().unwrap();
        encode += t.elapsed().as_secs_f64();
        if let Some(own) = own {
            keys.union(&own);
        }
        if let Some(m) = mains {
            let t = Instant::now();
            std::hint::black_box(m.into_sorted().len());
            main_s += t.elapsed().as_secs_f64();
        }
        let mb = extract.size(def.file).unwrap_or(0) as f64 / 1e6;
        let phases = [
            inflate,
            hashed - inflate,
            tokenize,
            typing_s,
            encode,
            main_s,
        ];
        for (t, p) in totals.iter_mut().zip(phases) {
            *t += p;
        }
        println!(
            "{:<18} {:>10.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            def.file, mb, phases[0], phases[1], phases[2], phases[3], phases[4], phases[5]
        );
    }
    println!(
        "{:<18} {:>10} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
        "total (s, 1 core)", "", totals[0], totals[1], totals[2], totals[3], totals[4], totals[5]
    );
}
