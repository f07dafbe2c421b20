//! The `tandem` binary as an operator runs it: one binary, a module per area.

mod backup;
mod cluster;
mod history_import;
mod imports;
mod learn;
mod migrate_store;
mod serve;
mod simulate;
mod trends;
