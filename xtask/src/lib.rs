//! The project's own tool: `cargo xtask dev | test | migrate | build-worker`. Also a library, so
//! black-box tests start the same stack the dev command does.

pub mod bench;
pub mod build;
pub mod cart_seed;
pub mod catalog_seed;
pub mod children;
pub mod cmd;
pub mod dev;
pub mod migrate;
pub mod paths;
pub mod progress;
pub mod seed;
pub mod sql_split;
pub mod stack;
pub mod test;
pub mod tools;
