//! The cloud examination (云检查, DOMAIN.md §8): exams at the grassroots, diagnosis at
//! the upper level. So far the laboratory's side: the items Gongti knows with their
//! reference intervals and critical limits (`items`), and a laboratory report as it
//! arrives — the patient matched by ID number only, each result checked and kept with
//! its status and critical side (`report`); critical values as a closed loop with its
//! escalation deadline (`critical`); orders to a cloud centre with their workflow and
//! mutual recognition of earlier results (`orders`).

pub mod critical;
pub mod items;
pub mod orders;
pub mod reading;
pub mod report;
pub mod waveform;
pub mod worklist;
