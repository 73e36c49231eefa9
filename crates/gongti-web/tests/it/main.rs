//! The HTTP suite: the API, FHIR and console over an in-process router, on SQLite and
//! on PostgreSQL.

mod access;
mod api;
mod audit_writes;
mod break_glass;
mod browser;
mod browser_referral;
mod chronic;
mod client_systems;
mod console;
mod console_alerts;
mod console_consultations;
mod console_contracts;
mod console_referrals;
mod console_scheduling;
mod console_walk;
mod consultations;
mod contracts;
mod errors;
mod fhir;
mod fhir_export;
mod fhir_transactions;
mod fhir_versions;
mod fhir_writes;
mod idempotency;
mod indicators;
mod patients;
mod readings;
mod referrals;
mod requests;
mod roster;
mod scheduling;
mod screens;
mod sign_in;
mod support;
mod worklists;
