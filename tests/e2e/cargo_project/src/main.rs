use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Entry {
    key: String,
    files: u64,
}

fn main() {
    let e = Entry { key: "cargo-e2e".into(), files: 3 };
    let text = serde_json::to_string(&e).unwrap();
    let back: Entry = serde_json::from_str(&text).unwrap();
    assert_eq!(e, back);
    println!("{text}");
}
