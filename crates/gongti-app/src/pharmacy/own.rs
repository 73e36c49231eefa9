//! A resident's own prescriptions on their phone (DOMAIN.md §4 and §6): what was
//! prescribed and where it stands, the pharmacy and pickup or delivery they choose, their
//! own share of a 门特 settlement shown before they pay it, and the parcel's progress
//! with the code they give at the door. Each read and step is audited as theirs.

use gongti_core::pharmacy::dispense::Fulfilment;
use gongti_core::pharmacy::prescription::RxContent;
use gongti_core::region::InstitutionKind;
use gongti_store::{
    FillRecord, InstitutionFilter, PrescriptionFilter, PrescriptionRecord, SettlementRecord,
};

use crate::insurance::SettlementAnswer;
use crate::patients::PatientCtx;
use crate::{App, AppError, AppResult};

/// How many of their prescriptions the phone shows (the newest).
pub const OWN_PRESCRIPTIONS_SHOWN: u32 = 20;

/// One of the resident's prescriptions with all the phone shows of it.
#[derive(Debug, Clone)]
pub struct OwnPrescription {
    pub record: PrescriptionRecord,
    pub content: RxContent,
    pub route: (Option<i64>, Option<String>, Option<String>),
    pub fill: Option<FillRecord>,
    pub settlements: Vec<SettlementRecord>,
    /// The pharmacies they may choose (id, name), when they may still choose.
    pub choices: Vec<(i64, String)>,
}

impl App {
    /// The pharmacies a prescription may go to: the region's cloud pharmacies, the
    /// prescribing institution and the patient's own.
    pub async fn pharmacy_choices(
        &self,
        record: &PrescriptionRecord,
    ) -> AppResult<Vec<(i64, String)>> {
        let filter = InstitutionFilter {
            kinds: vec![InstitutionKind::InternetHospital],
            ..InstitutionFilter::default()
        };
        let mut out: Vec<(i64, String)> = self
            .store
            .institutions(&filter, None, 20)
            .await?
            .items
            .into_iter()
            .map(|i| (i.id, i.name))
            .collect();
        let home = self
            .store
            .resident(record.resident_id)
            .await?
            .home_institution_id;
        for id in [record.institution_id, home] {
            if !out.iter().any(|(i, _)| *i == id) {
                out.push((id, self.store.institution(id).await?.name));
            }
        }
        Ok(out)
    }

    /// The resident's own prescriptions, the newest first (audited `prescription.list`).
    pub async fn own_prescriptions(&self, p: &PatientCtx) -> AppResult<Vec<OwnPrescription>> {
        let page = self
            .store
            .prescriptions(
                &PrescriptionFilter {
                    resident_id: Some(p.resident_id),
                    ..PrescriptionFilter::default()
                },
                None,
                OWN_PRESCRIPTIONS_SHOWN,
            )
            .await?;
        let mut out = Vec::with_capacity(page.items.len());
        for record in page.items {
            let view = self.prescription_unaudited(record.id).await?;
            let passed =
                record.status == gongti_core::pharmacy::prescription::RxStatus::Passed.code();
            let choices = if passed {
                self.pharmacy_choices(&record).await?
            } else {
                Vec::new()
            };
            out.push(OwnPrescription {
                settlements: self.store.settlements_of(record.id).await?,
                content: view.content,
                route: view.route,
                fill: view.fill,
                choices,
                record,
            });
        }
        let mut entry = p.entry(self.now_us(), "prescription.list", "MedicationRequest");
        entry.detail = Some(format!("{} listed", out.len()));
        self.audit.record(vec![entry]).await?;
        Ok(out)
    }

    /// One of the resident's own prescriptions, or a refusal audited on `entry`.
    async fn own_record(
        &self,
        p: &PatientCtx,
        id: i64,
        entry: &mut gongti_core::audit::AuditEntry,
    ) -> AppResult<PrescriptionRecord> {
        entry.resource_id = Some(id.to_string());
        match self.store.prescription(id).await {
            Ok(r) if r.resident_id == p.resident_id => Ok(r),
            // Another's prescription is as absent as a missing one.
            Ok(_) | Err(gongti_store::StoreError::NotFound) => {
                Err(self.refuse(entry.clone(), AppError::NotFound).await)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The resident chooses the pharmacy and pickup or delivery (audited
    /// `prescription.route`).
    pub async fn own_route(
        &self,
        p: &PatientCtx,
        id: i64,
        pharmacy_id: i64,
        fulfilment: Fulfilment,
        address: Option<&str>,
    ) -> AppResult<()> {
        let mut entry = p.entry(self.now_us(), "prescription.route", "MedicationRequest");
        let record = self.own_record(p, id, &mut entry).await?;
        if !self
            .pharmacy_choices(&record)
            .await?
            .iter()
            .any(|(i, _)| *i == pharmacy_id)
        {
            return Err(self
                .refuse(
                    entry,
                    AppError::invalid("pharmacy_id", gongti_core::problem::Problem::NotAllowed),
                )
                .await);
        }
        self.route_decided(record, entry, pharmacy_id, fulfilment, address)
            .await
    }

    /// The resident's own share before they pay (audited `insurance.presettle`).
    pub async fn own_presettle(
        &self,
        p: &PatientCtx,
        id: i64,
        use_account: bool,
    ) -> AppResult<SettlementAnswer> {
        let mut entry = p.entry(self.now_us(), "insurance.presettle", "Claim");
        let record = self.own_record(p, id, &mut entry).await?;
        let (input, lines) = self.priced_input(record, &mut entry, use_account).await?;
        self.presettle_with(entry, input, lines).await
    }

    /// The resident pays their share, as shown (audited `insurance.settle`).
    pub async fn own_settle(
        &self,
        p: &PatientCtx,
        id: i64,
        use_account: bool,
        expected_cash_fen: i64,
    ) -> AppResult<SettlementAnswer> {
        let mut entry = p.entry(self.now_us(), "insurance.settle", "Claim");
        let record = self.own_record(p, id, &mut entry).await?;
        let (input, lines) = self.priced_input(record, &mut entry, use_account).await?;
        self.settle_with(entry, input, lines, expected_cash_fen)
            .await
    }
}
