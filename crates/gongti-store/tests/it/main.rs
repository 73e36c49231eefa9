//! The storage contract suite: every test runs against SQLite and PostgreSQL.

mod audit;
mod registry;
mod residents;
mod support;
