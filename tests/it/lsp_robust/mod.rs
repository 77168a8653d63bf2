//! The language server keeps its client: `rasp lsp` driven over pipes with
//! what a careless or hostile client sends. A body that is no JSON-RPC
//! message gets the protocol's error response; lost framing (bad or huge
//! lengths, LF-only headers, garbage) is found again at the next header
//! or ends the server with status 1 and a message; shutdown and exit
//! follow the protocol; requests are answered from the latest finished
//! analysis while a new one runs; a closed standard output ends it
//! cleanly; and a seeded fuzz run of random and mutated frames leaves it
//! serving, with no panic.
//!
//! `client.rs`: the harness (`rasp lsp` over pipes, frames read strictly);
//! `protocol.rs`: bodies that are no JSON-RPC, shutdown and exit, a closed
//! output; `framing.rs`: lost framing, found again or lost for good;
//! `analysis.rs`: requests during an analysis, huge documents; `fuzz.rs`:
//! the seeded fuzz run.

mod analysis;
mod client;
mod framing;
mod fuzz;
mod protocol;
