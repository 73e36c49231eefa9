//! The seeds' headline story in the demo region (issue 15): an elderly chronic patient
//! of a 宁河区 township centre, his family doctor (`nhdoctor`), the internet hospital's
//! pharmacist (`pharmacist`) and a delivery. His insurance and 门特 certification are
//! the simulator's demo values. Everything happens through the use cases a person
//! would use — the doctor signs with their password, the pharmacist signs the pass, the
//! patient (`nhpatient`) chooses delivery and pays his share, the pharmacy dispenses and
//! the parcel is signed for with his code — so the demo holds one prescription delivered
//! and settled, and a second passed and waiting for his choice on the phone. It starts
//! on his phone: each prescription is written in an online repeat visit he asked for,
//! and a third request waits in the doctor's online clinic. Around it, the centre's day:
//! other patients' prescriptions waiting for the pharmacist, to be filled, on their way.

use gongti_core::chronic::Disease;
use gongti_core::pharmacy::check::{Channel, DraftLine, RxKind, Visit};
use gongti_core::pharmacy::dispense::{DeliveryStep, Fulfilment};
use gongti_core::pharmacy::knowledge::Route;
use gongti_core::role::Role;
use gongti_store::{NewStaff, NewUser, ResidentFilter};

use crate::demo::demo_entry;
use crate::patients::PatientCtx;
use crate::pharmacy::{CheckRequest, Handover, IssueRequest, StepRequest, VisitRequest};
use crate::{App, AppResult, Ctx, Principal};

/// The story's district: 宁河区.
pub const STORY_DISTRICT: &str = "120117";
/// The story's family doctor's and patient's sign-ins.
pub const STORY_DOCTOR: &str = "nhdoctor";
pub const STORY_PATIENT: &str = "nhpatient";
/// Residents read per centre when looking for the story's patient.
const CANDIDATES: u32 = 500;
/// Other patients of the centre whose prescriptions fill the cloud pharmacy's day.
const DAY_PATIENTS: usize = 4;

/// Who the story needs that the demo already has.
pub(crate) struct StoryCast<'a> {
    /// The 宁河区 grassroots institutions.
    pub centres: &'a [i64],
    pub internet_hospital: i64,
    /// The internet hospital's pharmacist: staff id, user id.
    pub pharmacist: (i64, i64),
    pub password: &'a str,
    pub password_hash: &'a str,
}

/// A possible patient: resident, centre, disease, its ICD-10 code, and how well they
/// fit (contracted with a family doctor's team, under diabetes management, a man, age).
type Candidate = (i64, i64, Disease, String, (bool, bool, bool, i64));

fn line(name: &str, dose: f64, times: u32) -> DraftLine {
    DraftLine {
        generic_name: name.into(),
        dose: Some(dose),
        dose_unit: Some("mg".into()),
        times_per_day: Some(times),
        route: Some(Route::Oral),
        days: Some(28),
    }
}

impl App {
    /// Plays the story; nothing when the region has no elderly chronic patient in
    /// 宁河区 (a demo too small to hold one).
    pub(crate) async fn seed_pharmacy_story(
        &self,
        cast: &StoryCast<'_>,
        today: time::Date,
        now_us: i64,
    ) -> AppResult<()> {
        let store = &self.store;
        // The patient: someone of 65 or more at a 宁河区 centre under chronic
        // management — under diabetes management first, then a man, then the oldest.
        let mut chosen: Option<Candidate> = None;
        for centre in cast.centres {
            let page = store
                .residents(
                    &ResidentFilter {
                        home_institution_id: Some(*centre),
                        ..ResidentFilter::default()
                    },
                    None,
                    CANDIDATES,
                )
                .await?;
            for r in &page.items {
                let age = gongti_core::resident::age_years(r.birth_date, today);
                if age < 65 {
                    continue;
                }
                let Some(e) = store
                    .enrolments_of_resident(r.id)
                    .await?
                    .into_iter()
                    .filter(|e| e.active)
                    .min_by_key(|e| e.disease != Disease::Diabetes)
                else {
                    continue;
                };
                // His family doctor's team takes his online visits: a contract first.
                let contracted = store
                    .contracts_of_resident(r.id, 4)
                    .await?
                    .iter()
                    .any(|k| k.status == gongti_core::contract::ContractStatus::Active);
                let rank = (
                    contracted,
                    e.disease == Disease::Diabetes,
                    r.sex == gongti_core::Sex::Male,
                    i64::from(age),
                );
                if chosen
                    .as_ref()
                    .is_none_or(|(_, _, _, _, best)| rank > *best)
                {
                    chosen = Some((r.id, *centre, e.disease, e.icd10.clone(), rank));
                }
            }
        }
        let Some((resident, centre, disease, icd10, _)) = chosen else {
            return Ok(());
        };
        let record = store.resident(resident).await?;

        // His family doctor at the centre.
        let doctor = store
            .insert_staff(
                &NewStaff {
                    name: "李建国".into(),
                    role: Role::FamilyDoctor,
                    institution_id: Some(centre),
                    district_code: Some(STORY_DISTRICT.into()),
                    department_id: None,
                    licence_number: Some("110120000088888".into()),
                    title: Some("主治医师".into()),
                    practice_years: 12,
                },
                now_us,
                &[demo_entry(now_us, "Staff", None)],
            )
            .await?;
        let doctor_user = store
            .insert_user(
                &NewUser {
                    username: STORY_DOCTOR.into(),
                    password_hash: cast.password_hash.into(),
                    staff_id: doctor.id,
                },
                now_us,
                &[demo_entry(now_us, "User", None)],
            )
            .await?;

        // His insurance (城乡居民, no personal account) and 门特 certification.
        let from = time::Date::from_calendar_date(today.year(), time::Month::January, 1)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let until = time::Date::from_calendar_date(today.year() + 1, time::Month::December, 31)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        store
            .set_insured(
                &gongti_store::InsuredPerson {
                    resident_id: resident,
                    psn_no: format!("SIMPSN{resident}"),
                    insutype: "resident".into(),
                    psn_type: "retired".into(),
                    account_balance_fen: 0,
                },
                now_us,
                &[demo_entry(now_us, "Coverage", Some(resident))],
            )
            .await?;
        // Certified for each disease under management (the prescription treats them
        // all).
        for e in store.enrolments_of_resident(resident).await? {
            if !e.active {
                continue;
            }
            store
                .certify_chronic(
                    resident,
                    &gongti_store::Certification {
                        disease: e.disease.code().to_owned(),
                        valid_from: from,
                        valid_until: until,
                    },
                    now_us,
                    &[demo_entry(now_us, "Coverage", Some(resident))],
                )
                .await?;
        }
        let account = store
            .insert_patient_account(
                resident,
                STORY_PATIENT,
                cast.password_hash,
                doctor.id,
                now_us,
                &[demo_entry(now_us, "PatientAccount", Some(resident))],
            )
            .await?;

        let doctor_ctx = Ctx {
            principal: Principal {
                user_id: doctor_user,
                username: STORY_DOCTOR.into(),
                staff_id: doctor.id,
                staff_name: doctor.name.clone(),
                role: Role::FamilyDoctor,
                institution_id: Some(centre),
                district_code: Some(STORY_DISTRICT.into()),
                scopes: None,
            },
            request_id: None,
        };
        let pharmacist_ctx = Ctx {
            principal: Principal {
                user_id: cast.pharmacist.1,
                username: "pharmacist".into(),
                staff_id: cast.pharmacist.0,
                staff_name: store.staff_member(cast.pharmacist.0).await?.name,
                role: Role::Pharmacist,
                institution_id: Some(cast.internet_hospital),
                district_code: None,
                scopes: None,
            },
            request_id: None,
        };
        let patient = PatientCtx {
            account_id: account,
            resident_id: resident,
            username: STORY_PATIENT.into(),
            csrf: None,
            request_id: None,
        };
        let lines = if disease == Disease::Diabetes {
            vec![line("二甲双胍", 500.0, 3), line("阿卡波糖", 50.0, 3)]
        } else {
            vec![line("苯磺酸氨氯地平片", 5.0, 1)]
        };
        let draft = CheckRequest {
            resident_id: Some(resident),
            patient: Default::default(),
            prescriber: Default::default(),
            // A repeat visit online: the disease was diagnosed at an institution (the
            // enrolment's diagnosis).
            visit: Visit {
                channel: Channel::Online,
                offline_diagnoses: vec![icd10.clone()],
                guardian_present: false,
                specialist_present: false,
            },
            kind: RxKind::Normal,
            validity_days: 3,
            long: None,
            supply_reason: true,
            lines,
        };
        let address = record
            .address
            .clone()
            .unwrap_or_else(|| "天津市宁河区芦台镇".into());
        // He asks his family doctor's team for a repeat visit on his phone (his team
        // when he has a contract, the internet hospital otherwise — where the story's
        // doctor does not sit, so the story stops there).
        let places = self.visit_options(&patient).await?.places;
        let Some(destination) = places
            .iter()
            .find(|p| p.institution_id == centre)
            .map(|p| p.destination)
        else {
            return Ok(());
        };
        self.open_online_clinic(&doctor_ctx, cast.password).await?;
        let ask = |complaint: &str| VisitRequest {
            disease_icd10: Some(icd10.clone()),
            destination,
            complaint: complaint.into(),
            images: Vec::new(),
        };
        let mut issued = Vec::new();
        for complaint in [
            "李医生您好，我的药快吃完了，想在网上复诊开药。最近没有不舒服。",
            "药又快吃完了，还是想网上复诊开药，最近挺稳的。",
        ] {
            let visit = self.request_visit(&patient, ask(complaint)).await?;
            self.accept_visit(&doctor_ctx, visit).await?;
            self.doctor_visit_message(
                &doctor_ctx,
                visit,
                "您好，看了您的记录和随访，控制得不错。按原方案开 4 周的药，药师审核通过后可以送药到家。",
                &[],
            )
            .await?;
            let (id, _) = self
                .issue_prescription(
                    &doctor_ctx,
                    IssueRequest {
                        draft: draft.clone(),
                        password: cast.password.into(),
                        online_visit_id: Some(visit),
                    },
                )
                .await?
                .map_err(|refused| anyhow::anyhow!("the story's prescription: {refused:?}"))?;
            self.prescription_step(
                &pharmacist_ctx,
                id,
                StepRequest {
                    step: gongti_core::pharmacy::prescription::Step::Pass,
                    reason: None,
                    password: Some(cast.password.into()),
                    revision: None,
                    version: None,
                },
            )
            .await?
            .map_err(|refused| anyhow::anyhow!("the story's review: {refused:?}"))?;
            issued.push(id);
        }
        // And a third request, waiting in the doctor's online clinic.
        self.request_visit(
            &patient,
            ask(if disease == Disease::Diabetes {
                "这两周空腹血糖 9 左右，比以前高，药要不要调整？"
            } else {
                "这几天早上头有点晕，量血压 150/95，药要不要调整？"
            }),
        )
        .await?;
        // The first: delivered to his door, his share paid on his phone.
        let first = issued[0];
        self.own_route(
            &patient,
            first,
            cast.internet_hospital,
            Fulfilment::Delivery,
            Some(&address),
        )
        .await?;
        let shown = self.own_presettle(&patient, first, false).await?;
        self.own_settle(&patient, first, false, shown.cash_fen)
            .await?;
        self.dispense(&pharmacist_ctx, first, Handover::Delivery)
            .await?;
        let code = store
            .fill(first)
            .await?
            .and_then(|f| f.recipient_code)
            .ok_or_else(|| anyhow::anyhow!("the story's delivery has no code"))?;
        for step in [DeliveryStep::Dispatch, DeliveryStep::InTransit] {
            self.delivery_step(&pharmacist_ctx, first, step, None, None)
                .await?;
        }
        self.delivery_step(
            &pharmacist_ctx,
            first,
            DeliveryStep::Deliver,
            Some(&code),
            None,
        )
        .await?;
        self.seed_pharmacy_day(&doctor_ctx, &pharmacist_ctx, cast, centre, resident)
            .await
    }

    /// The rest of the cloud pharmacy's day at the centre, so each role finds work:
    /// two prescriptions of other patients waiting for the pharmacist (one with a dose
    /// over the maximum), one passed and sent for delivery waiting to be filled, one
    /// on its way.
    async fn seed_pharmacy_day(
        &self,
        doctor: &Ctx,
        pharmacist: &Ctx,
        cast: &StoryCast<'_>,
        centre: i64,
        story_patient: i64,
    ) -> AppResult<()> {
        let store = &self.store;
        let page = store
            .residents(
                &ResidentFilter {
                    home_institution_id: Some(centre),
                    ..ResidentFilter::default()
                },
                None,
                CANDIDATES,
            )
            .await?;
        let mut patients = Vec::new();
        for r in &page.items {
            if r.id == story_patient || patients.len() == DAY_PATIENTS {
                continue;
            }
            // Adults seen at the centre for hypertension (the diagnosis on the
            // prescription; the record's own enrolment when it has one).
            if gongti_core::resident::age_years(r.birth_date, self.today()) >= 40 {
                patients.push((r.id, r.address.clone()));
            }
        }
        for (n, (resident, address)) in patients.into_iter().enumerate() {
            // The first one's dose is over the maximum: the pharmacist sees it first.
            let dose = if n == 0 { 20.0 } else { 5.0 };
            let draft = CheckRequest {
                resident_id: Some(resident),
                patient: crate::pharmacy::PatientInput {
                    diagnoses: vec!["I10".into()],
                    ..Default::default()
                },
                prescriber: Default::default(),
                visit: Visit {
                    channel: Channel::Clinic,
                    offline_diagnoses: Vec::new(),
                    guardian_present: false,
                    specialist_present: false,
                },
                kind: RxKind::Normal,
                validity_days: 3,
                long: None,
                supply_reason: true,
                lines: vec![line("苯磺酸氨氯地平片", dose, 1)],
            };
            let (id, _) = self
                .issue_prescription(
                    doctor,
                    IssueRequest {
                        draft,
                        password: cast.password.into(),
                        online_visit_id: None,
                    },
                )
                .await?
                .map_err(|refused| anyhow::anyhow!("the day's prescription: {refused:?}"))?;
            if n < 2 {
                continue;
            }
            self.prescription_step(
                pharmacist,
                id,
                StepRequest {
                    step: gongti_core::pharmacy::prescription::Step::Pass,
                    reason: None,
                    password: Some(cast.password.into()),
                    revision: None,
                    version: None,
                },
            )
            .await?
            .map_err(|refused| anyhow::anyhow!("the day's review: {refused:?}"))?;
            let address = address.unwrap_or_else(|| "天津市宁河区芦台镇".into());
            self.route_prescription(
                doctor,
                id,
                cast.internet_hospital,
                Fulfilment::Delivery,
                Some(&address),
            )
            .await?;
            if n == 3 {
                self.dispense(pharmacist, id, Handover::Delivery).await?;
                self.delivery_step(pharmacist, id, DeliveryStep::Dispatch, None, None)
                    .await?;
            }
        }
        Ok(())
    }
}
