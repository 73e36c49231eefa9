//! The storage contract suite: every test runs against SQLite and PostgreSQL.

mod audit;
mod contracts;
mod registry;
mod residents;
mod support;
mod versions;
