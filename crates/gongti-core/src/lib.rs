//! Gongti's domain core: the values and rules every other crate builds on.
//!
//! Nothing here performs IO, reads the clock, or knows a wire format: callers pass
//! `today` / `now` in, and edges convert these types to JSON, FHIR or HTML by hand.

pub mod access;
pub mod audit;
pub mod checkpoint;
pub mod chronic;
pub mod consultation;
pub mod contract;
pub mod coverage;
pub mod decimal;
pub mod exam;
pub mod id_number;
pub mod insurance;
pub mod lab;
pub mod measure;
pub mod mix;
pub mod money;
pub mod names;
pub mod payment;
pub mod pharmacy;
pub mod phone;
pub mod problem;
pub mod referral;
pub mod region;
pub mod resident;
pub mod role;
pub mod roster;
pub mod scheduling;
pub mod scope;
pub mod team;
pub mod text;
pub mod throttle;
pub mod tsv;

pub use id_number::{IdNumber, IdNumberError, Sex};
pub use phone::{Phone, PhoneError};
