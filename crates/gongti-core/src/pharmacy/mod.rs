//! The cloud pharmacy (云药房, DOMAIN.md §4): the knowledge base a prescription is
//! judged by, the online repeat visit a prescription is written in, the check that
//! judges it, the issued prescription's review, and its outflow and dispensing.

pub mod check;
pub mod dispense;
pub mod figures;
pub mod knowledge;
pub mod prescription;
pub mod visit;

#[cfg(test)]
mod tests;

pub use check::{
    Channel, Draft, DraftLine, DraftProblems, Finding, FindingCode, Judgement, LongRx,
    PatientFacts, Prescriber, RxKind, Severity, Verdict, Visit, check,
};
pub use knowledge::{Grade, Hepatic, Knowledge, Route, TitleLevel};
