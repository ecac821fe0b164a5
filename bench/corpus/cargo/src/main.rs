//! Exercises each dependency a little so that all of them are really compiled and linked.
use indexmap::IndexMap;
use once_cell::sync::Lazy;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use regex::Regex;
use serde::{Deserialize, Serialize};

static WORD: Lazy<Regex> = Lazy::new(|| Regex::new(r"[a-z]+[0-9]*").unwrap());

#[derive(Serialize, Deserialize, Debug)]
struct Report {
    words: IndexMap<String, usize>,
    sum: u64,
}

fn main() {
    env_logger::init();
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let text: String = (0..1000)
        .map(|_| if rng.gen_bool(0.2) { ' ' } else { rng.gen_range('a'..='z') })
        .collect();
    let mut words = IndexMap::new();
    for m in WORD.find_iter(&text) {
        *words.entry(m.as_str().to_string()).or_insert(0) += 1;
    }
    let sum: u64 = (0..10_000u64).into_par_iter().map(|x| x % 7).sum();
    let (tx, rx) = crossbeam_channel::unbounded();
    tx.send(sum).unwrap();
    let report = Report { words, sum: rx.recv().unwrap() };
    log::info!("{} distinct words", report.words.len());
    let json = serde_json::to_string(&report).unwrap();
    let back: Report = serde_json::from_str(&json).unwrap();
    println!("regcache-bench-corpus: {} words, sum {}", back.words.len(), back.sum);
}
