//! Makes sure the folder the frontend is embedded from exists, so that the server compiles
//! (and `cargo clippy`/`cargo test` run) before the frontend has been built. A binary built
//! that way serves a page saying the frontend is missing; `scripts/run.sh` always builds the
//! frontend first.

fn main() {
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist");
    if !dist.exists() {
        std::fs::create_dir_all(&dist).expect("create the dist folder");
    }
    println!("cargo:rerun-if-changed=../dist");
    // sqlx::migrate! embeds the migrations: a new one must rebuild the crate.
    println!("cargo:rerun-if-changed=migrations");
}
