//! The demo region: a synthetic city shaped like Tianjin — its 16 districts with their
//! real area codes, ~266 grassroots institutions tied to upper hospitals, an internet
//! hospital, staff and family-doctor teams, and residents with plausible names, valid
//! ID numbers and an age pyramid. Deterministic for a seed; memory stays bounded
//! whatever the number of residents.

use std::collections::HashMap;

use gongti_core::audit::AuditEntry;
use gongti_core::contract::{FeeSplit, NewTerm, term_end};
use gongti_core::exam::orders::Category;
use gongti_core::id_number::check_character;
use gongti_core::region::InstitutionKind;
use gongti_core::resident::ValidResident;
use gongti_core::role::Role;
use gongti_core::{IdNumber, Phone, Sex};
use gongti_store::{
    ContractWrite, NewInstitution, NewPackage, NewStaff, NewTeam, NewUser, OpenContract,
    ResidentFilter,
};
use time::{Date, Duration};

use crate::auth::hash_password;
use crate::{App, AppResult};

pub const CITY_CODE: &str = "120100";
pub const CITY_NAME: &str = "天津市";
/// Residents written per transaction while seeding.
pub const DEMO_BATCH: usize = 5_000;
/// The setting that marks a data directory as holding a demo region.
pub const DEMO_SETTING: &str = "demo_region";

/// Tianjin's 16 districts: code, name, grassroots institutions, upper hospitals.
pub const DISTRICTS: [(&str, &str, u32, u32); 16] = [
    ("120101", "和平区", 6, 4),
    ("120102", "河东区", 13, 2),
    ("120103", "河西区", 14, 4),
    ("120104", "南开区", 13, 4),
    ("120105", "河北区", 10, 2),
    ("120106", "红桥区", 10, 1),
    ("120110", "东丽区", 15, 1),
    ("120111", "西青区", 17, 1),
    ("120112", "津南区", 15, 1),
    ("120113", "北辰区", 18, 1),
    ("120114", "武清区", 31, 1),
    ("120115", "宝坻区", 24, 1),
    ("120116", "滨海新区", 28, 3),
    ("120117", "宁河区", 14, 1),
    ("120118", "静海区", 19, 1),
    ("120119", "蓟州区", 19, 1),
];
/// The first six districts are urban: community health centres; the rest have townships.
const URBAN_DISTRICTS: usize = 6;
const UPPER_DEPARTMENTS: [(&str, &str); 5] = [
    ("cardio", "心血管内科"),
    ("endo", "内分泌科"),
    ("neuro", "神经内科"),
    ("nephro", "肾内科"),
    ("general", "全科医学科"),
];

/// The demo's cloud centres: kind, code (the accession numbers' prefix), name, HR mark
/// and how many days from seeding its quality evaluation still holds.
const DEMO_CENTRES: [(Category, &str, &str, &str, Option<i64>); 3] = [
    (Category::Lab, "LAB01", "云检验中心", "京津冀HR", Some(365)),
    (Category::Imaging, "RAD01", "云影像中心", "", None),
    (Category::Ecg, "ECG01", "云心电中心", "", None),
];

/// The fixed demo sign-ins: username, role, and where they work (documented in README).
/// Service packages of the demo region: (code, name, basic, insurance, public-health
/// funds, resident) in fen. The basic package is DOMAIN.md §5's example of 120 yuan a
/// year; how it is shared is a regional parameter, these shares are illustrative.
pub const DEMO_PACKAGES: [(&str, &str, bool, i64, i64, i64); 3] = [
    ("basic", "基础签约服务包", true, 6_000, 4_000, 2_000),
    (
        "elderly",
        "老年人健康管理个性化服务包",
        false,
        0,
        2_000,
        3_000,
    ),
    ("chronic", "慢病管理个性化服务包", false, 5_000, 0, 1_000),
];
/// Packs of each product the demo's pharmacies hold.
pub const DEMO_STOCK_PACKS: i64 = 200;
/// Most demo contracts signed with the demo doctor's team.
pub const DEMO_CONTRACTS_MAX: u32 = 200;

pub const DEMO_USERS: [(&str, Role); 13] = [
    ("doctor", Role::FamilyDoctor),
    ("nurse", Role::Nurse),
    ("phdoctor", Role::PublicHealthDoctor),
    ("manager", Role::HealthManager),
    ("pharmacist", Role::Pharmacist),
    ("specialist", Role::Specialist),
    ("reader", Role::ExamReader),
    ("hospadmin", Role::InstitutionAdmin),
    ("centreadmin", Role::InstitutionAdmin),
    ("district", Role::DistrictOfficer),
    ("officer", Role::CityOfficer),
    ("insurer", Role::InsuranceOfficer),
    // the imaging centre's second diagnosing doctor: a CT report needs two readers
    ("reader2", Role::ExamReader),
];

/// SplitMix64: small, fast and stable across releases, so a seed always yields the
/// same region (library RNGs do not promise that).
#[derive(Debug, Clone)]
pub struct DemoRng(u64);

impl DemoRng {
    pub fn new(seed: u64) -> Self {
        DemoRng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        gongti_core::mix::splitmix64(self.0)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The professional titles (职称) a member of staff of `role` holds in the demo, junior
/// to senior: a nurse's, a pharmacist's (each of which may review prescriptions:
/// `data/pharmacy/titles.tsv`) or a physician's; a health manager's register names none,
/// nor does a non-clinical post's.
fn staff_titles(role: Role) -> Option<[&'static str; 4]> {
    match role {
        Role::Nurse => Some(["护士", "护师", "主管护师", "副主任护师"]),
        Role::Pharmacist => Some(["药师", "主管药师", "副主任药师", "主任药师"]),
        Role::HealthManager => None,
        r if r.is_clinical() => Some(["医师", "主治医师", "副主任医师", "主任医师"]),
        _ => None,
    }
}

const SURNAMES: [&str; 40] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "程", "曹",
    "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕",
];
const MALE_GIVEN: [&str; 24] = [
    "伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "刚", "平", "辉", "鹏", "华", "建国",
    "志强", "海涛", "国庆", "文博", "浩然", "子轩", "宇航", "建华", "永刚",
];
const FEMALE_GIVEN: [&str; 24] = [
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀英", "桂英", "玉兰", "淑珍", "丽娟", "婷",
    "雪", "颖", "欣怡", "子涵", "梓萱", "雨桐", "秀兰", "凤英", "海燕", "晓红",
];
const STREETS: [&str; 12] = [
    "南京路",
    "解放路",
    "卫津路",
    "黄河道",
    "红旗路",
    "中山路",
    "津塘路",
    "友谊路",
    "建设路",
    "光明路",
    "新华路",
    "胜利路",
];

pub fn person_name(rng: &mut DemoRng, sex: Sex) -> String {
    let given = match sex {
        Sex::Male => rng.pick(&MALE_GIVEN),
        Sex::Female => rng.pick(&FEMALE_GIVEN),
    };
    format!("{}{given}", rng.pick(&SURNAMES))
}

/// An age drawn from a pyramid shaped like the city's census (share per band, %).
fn age_years(rng: &mut DemoRng) -> i32 {
    const BANDS: [(i32, i32, u64); 7] = [
        (0, 14, 13),
        (15, 24, 9),
        (25, 34, 15),
        (35, 44, 15),
        (45, 59, 25),
        (60, 74, 17),
        (75, 99, 6),
    ];
    let mut roll = rng.below(100);
    for (low, high, share) in BANDS {
        if roll < share {
            return low + rng.below((high - low + 1) as u64) as i32;
        }
        roll -= share;
    }
    40
}

/// Hands out ID-number sequence numbers so that no two residents share a number:
/// one counter per (area, birth date, sex).
#[derive(Debug, Default)]
struct SequenceBook {
    used: HashMap<(u32, Date, bool), u16>,
}

impl SequenceBook {
    /// The next free sequence (odd for men, even for women), or `None` when the day is full.
    fn next(&mut self, area: u32, birth: Date, sex: Sex) -> Option<u16> {
        let male = sex == Sex::Male;
        let n = self.used.entry((area, birth, male)).or_insert(0);
        if *n >= 500 {
            return None;
        }
        let sequence = *n * 2 + u16::from(male);
        *n += 1;
        Some(sequence)
    }
}

fn id_number(area: u32, birth: Date, sequence: u16) -> IdNumber {
    let body = format!(
        "{area:06}{:04}{:02}{:02}{sequence:03}",
        birth.year(),
        u8::from(birth.month()),
        birth.day()
    );
    let full = format!("{body}{}", check_character(body.as_bytes()));
    IdNumber::parse(&full, Date::MAX).expect("generated ID numbers are valid")
}

/// Where residents can be registered: each grassroots institution and its district.
#[derive(Debug, Clone)]
struct Home {
    institution_id: i64,
    district_index: usize,
}

/// What seeding produced.
#[derive(Debug, Clone, Default)]
pub struct DemoSummary {
    pub districts: usize,
    pub grassroots: usize,
    pub upper_hospitals: usize,
    pub residents: u64,
    pub contracts: u64,
    /// Schedules published at the first tertiary hospital for the next two weeks.
    pub schedules: u64,
    /// The generator's own count of the year's chronic-disease indicators.
    pub chronic: crate::demo_chronic::ChronicTruth,
}

/// Residents of `doctor`'s centre looked at for the demo's own `patient` account.
const PATIENT_CANDIDATES: u32 = 500;

impl App {
    /// Seeds the demo region into an empty store. `password` is set for every demo
    /// sign-in; `progress(done, total)` is called after each batch of residents.
    pub async fn seed_demo(
        &self,
        residents: u64,
        seed: u64,
        password: &str,
        mut progress: impl FnMut(u64, u64),
    ) -> AppResult<DemoSummary> {
        crate::auth::check_password(password)?;
        let store = &self.store;
        let now_us = self.now_us();
        let today = self.today();
        let mut rng = DemoRng::new(seed);
        let mut summary = DemoSummary {
            districts: DISTRICTS.len(),
            ..DemoSummary::default()
        };
        let mut homes: Vec<Home> = Vec::new();
        let mut first_chc: Option<(i64, String)> = None;
        let mut first_tertiary: Option<(i64, i64)> = None;

        let internet_hospital = {
            store
                .upsert_district(DISTRICTS[0].0, DISTRICTS[0].1, CITY_CODE)
                .await?;
            store
                .insert_institution(
                    &NewInstitution {
                        code: "IH0001".into(),
                        name: "天津市互联网医院".into(),
                        kind: InstitutionKind::InternetHospital,
                        district_code: DISTRICTS[0].0.into(),
                        upper_institution_id: None,
                    },
                    now_us,
                    &[demo_entry(now_us, "Institution", None)],
                )
                .await?
        };

        for (d_index, (code, name, grassroots, uppers)) in DISTRICTS.iter().enumerate() {
            store.upsert_district(code, name, CITY_CODE).await?;
            let mut upper_ids = Vec::new();
            for u in 0..*uppers {
                let tertiary = d_index < URBAN_DISTRICTS || u > 0 || *code == "120116";
                let kind = if tertiary {
                    InstitutionKind::TertiaryHospital
                } else {
                    InstitutionKind::SecondaryHospital
                };
                // 中心医院, 第二中心医院 … for tertiary hospitals; 人民医院 for a district's
                // secondary hospital.
                const TERTIARY: [&str; 4] =
                    ["中心医院", "第二中心医院", "第三中心医院", "第四中心医院"];
                let label = if tertiary {
                    TERTIARY[u as usize % TERTIARY.len()]
                } else {
                    "人民医院"
                };
                let hospital = store
                    .insert_institution(
                        &NewInstitution {
                            code: format!("H{code}{u:02}"),
                            name: format!("{name}{label}"),
                            kind,
                            district_code: (*code).into(),
                            upper_institution_id: None,
                        },
                        now_us,
                        &[demo_entry(now_us, "Institution", None)],
                    )
                    .await?;
                let mut cardio_id = None;
                for (dept_code, dept_name) in UPPER_DEPARTMENTS {
                    let dept = store
                        .insert_department(
                            hospital.id,
                            dept_code,
                            dept_name,
                            now_us,
                            &[demo_entry(now_us, "Department", None)],
                        )
                        .await?;
                    cardio_id.get_or_insert(dept.id);
                    self.seed_staff(
                        &mut rng,
                        hospital.id,
                        code,
                        Some(dept.id),
                        Role::Specialist,
                        2,
                    )
                    .await?;
                }
                self.seed_staff(&mut rng, hospital.id, code, None, Role::Pharmacist, 1)
                    .await?;
                if kind == InstitutionKind::TertiaryHospital && first_tertiary.is_none() {
                    first_tertiary = Some((hospital.id, cardio_id.expect("departments")));
                }
                upper_ids.push(hospital.id);
                summary.upper_hospitals += 1;
            }
            for g in 0..*grassroots {
                let (kind, label) = if d_index < URBAN_DISTRICTS {
                    (InstitutionKind::CommunityHealthCentre, "社区卫生服务中心")
                } else {
                    (InstitutionKind::TownshipHealthCentre, "镇卫生院")
                };
                let street = rng.pick(&STREETS);
                let institution = store
                    .insert_institution(
                        &NewInstitution {
                            code: format!("G{code}{g:03}"),
                            name: format!(
                                "{name}{}{label}",
                                street.trim_end_matches('路').to_owned() + &(g + 1).to_string()
                            ),
                            kind,
                            district_code: (*code).into(),
                            upper_institution_id: Some(upper_ids[g as usize % upper_ids.len()]),
                        },
                        now_us,
                        &[demo_entry(now_us, "Institution", None)],
                    )
                    .await?;
                for team in 0..2 {
                    let doctor = self
                        .seed_staff(&mut rng, institution.id, code, None, Role::FamilyDoctor, 1)
                        .await?;
                    let nurse = self
                        .seed_staff(&mut rng, institution.id, code, None, Role::Nurse, 1)
                        .await?;
                    let ph = self
                        .seed_staff(
                            &mut rng,
                            institution.id,
                            code,
                            None,
                            Role::PublicHealthDoctor,
                            1,
                        )
                        .await?;
                    store
                        .insert_team(
                            &NewTeam {
                                institution_id: institution.id,
                                name: format!("家庭医生团队{}", team + 1),
                                doctor_staff_id: doctor[0],
                                nurse_staff_id: nurse[0],
                                public_health_staff_id: ph[0],
                            },
                            now_us,
                            &[demo_entry(now_us, "Team", None)],
                        )
                        .await?;
                }
                self.seed_staff(&mut rng, institution.id, code, None, Role::HealthManager, 1)
                    .await?;
                if first_chc.is_none() {
                    first_chc = Some((institution.id, (*code).to_owned()));
                }
                homes.push(Home {
                    institution_id: institution.id,
                    district_index: d_index,
                });
                summary.grassroots += 1;
            }
        }

        let (chc, chc_district) = first_chc.expect("a grassroots institution");
        let (tertiary, cardio) = first_tertiary.expect("a tertiary hospital");
        // The cloud centres at the first tertiary hospital (DOMAIN.md §8): its laboratory
        // passed the 京津冀鲁 quality evaluation, so its results carry 京津冀HR.
        for (kind, code, name, hr, qc) in DEMO_CENTRES {
            let qc_valid_until = qc.map(|days| self.today() + time::Duration::days(days));
            store
                .insert_exam_centre(
                    &gongti_store::NewCentre {
                        institution_id: tertiary,
                        kind,
                        code,
                        name,
                        hr_scope: hr,
                        qc_valid_until,
                    },
                    now_us,
                    &[demo_entry(now_us, "ExamCentre", None)],
                )
                .await?;
        }
        let hash = hash_password(password)?;
        let mut demo_staff: Vec<(&str, i64)> = Vec::new();
        // The internet hospital's pharmacist (staff, user), for the pharmacy's story.
        let mut pharmacist = None;
        for (username, role) in DEMO_USERS {
            let (institution, department, district) = match role {
                Role::Pharmacist => (
                    Some(internet_hospital.id),
                    None,
                    Some(DISTRICTS[0].0.to_owned()),
                ),
                Role::Specialist => (
                    Some(tertiary),
                    Some(cardio),
                    Some(DISTRICTS[0].0.to_owned()),
                ),
                Role::ExamReader => (Some(tertiary), None, Some(DISTRICTS[0].0.to_owned())),
                Role::InstitutionAdmin if username == "hospadmin" => {
                    (Some(tertiary), None, Some(DISTRICTS[0].0.to_owned()))
                }
                Role::DistrictOfficer => (None, None, Some(chc_district.clone())),
                Role::CityOfficer | Role::InsuranceOfficer => (None, None, None),
                _ => (Some(chc), None, Some(chc_district.clone())),
            };
            let staff = store
                .insert_staff(
                    &NewStaff {
                        name: demo_staff_name(username),
                        role,
                        institution_id: institution,
                        district_code: district,
                        department_id: department,
                        // the reader came later than the others: a fixed number, so
                        // that the generator draws what it drew before and a seed
                        // still yields the same region
                        licence_number: match role {
                            Role::ExamReader if username == "reader" => {
                                Some("110120000099001".to_owned())
                            }
                            Role::ExamReader => Some("110120000099002".to_owned()),
                            r if r.is_clinical() => {
                                Some(format!("1101200000{:05}", rng.below(100_000)))
                            }
                            _ => None,
                        },
                        // The intermediate title of the role's ladder.
                        title: staff_titles(role).map(|titles| titles[1].to_owned()),
                        practice_years: if role.is_clinical() { 8 } else { 0 },
                    },
                    now_us,
                    &[demo_entry(self.now_us(), "Staff", None)],
                )
                .await?;
            demo_staff.push((username, staff.id));
            let user = store
                .insert_user(
                    &NewUser {
                        username: username.into(),
                        password_hash: hash.clone(),
                        staff_id: staff.id,
                    },
                    now_us,
                    &[demo_entry(now_us, "User", None)],
                )
                .await?;
            if role == Role::Pharmacist {
                pharmacist = Some((staff.id, user));
            }
        }

        // Every product of the formulary in stock at the cloud pharmacy and at the
        // demo doctor's centre, so that a passed prescription can be filled and sent.
        for pharmacy in [internet_hospital.id, chc] {
            for product in &gongti_core::pharmacy::Knowledge::builtin().products {
                store
                    .set_stock(
                        pharmacy,
                        &product.code,
                        DEMO_STOCK_PACKS,
                        now_us,
                        &[demo_entry(now_us, "Medication", None)],
                    )
                    .await?;
            }
        }

        self.seed_residents(
            &mut rng,
            &homes,
            chc,
            residents,
            today,
            now_us,
            &mut progress,
        )
        .await?;
        summary.residents = residents;
        summary.contracts = self
            .seed_contracts(&mut rng, chc, &demo_staff, today, now_us)
            .await?;
        summary.chronic = self
            .seed_chronic_demo(seed, today, now_us, &mut progress)
            .await?;
        summary.contracts += summary.chronic.contracts;
        self.seed_insurance(chc, today, now_us).await?;
        // The demo resident's own sign-in (`patient`), for the phone pages at /patient:
        // a patient of `doctor`'s centre under chronic management with a contract, so
        // that their own record, team and charts have something to show.
        let candidates = store
            .residents(
                &ResidentFilter {
                    home_institution_id: Some(chc),
                    ..ResidentFilter::default()
                },
                None,
                PATIENT_CANDIDATES,
            )
            .await?;
        let mut chosen = candidates.items.first().map(|r| r.id);
        for r in &candidates.items {
            let managed = store
                .enrolments_of_resident(r.id)
                .await?
                .iter()
                .any(|e| e.active);
            let contracted = store
                .contracts_of_resident(r.id, 1)
                .await?
                .iter()
                .any(|k| k.status == gongti_core::contract::ContractStatus::Active);
            if managed && contracted {
                chosen = Some(r.id);
                break;
            }
        }
        if let (Some(resident), Some((_, doctor))) =
            (chosen, demo_staff.iter().find(|(u, _)| *u == "doctor"))
        {
            store
                .insert_patient_account(
                    resident,
                    "patient",
                    &hash,
                    *doctor,
                    now_us,
                    &[demo_entry(now_us, "PatientAccount", Some(resident))],
                )
                .await?;
        }
        let specialist = demo_staff
            .iter()
            .find(|(u, _)| *u == "specialist")
            .map(|(_, id)| *id);
        let admin = demo_staff
            .iter()
            .find(|(u, _)| *u == "hospadmin")
            .map_or(0, |(_, id)| *id);
        summary.schedules = self
            .seed_demo_schedules(tertiary, specialist, admin, today)
            .await?;
        // The cloud pharmacy's story, in 宁河区.
        let centres: Vec<i64> = homes
            .iter()
            .filter(|h| DISTRICTS[h.district_index].0 == crate::demo_pharmacy::STORY_DISTRICT)
            .map(|h| h.institution_id)
            .collect();
        if let Some(pharmacist) = pharmacist {
            self.seed_pharmacy_story(
                &crate::demo_pharmacy::StoryCast {
                    centres: &centres,
                    internet_hospital: internet_hospital.id,
                    pharmacist,
                    password,
                    password_hash: &hash,
                },
                today,
                now_us,
            )
            .await?;
        }
        // The payment scheme, this year's capitation and last year's cleared, once
        // everyone is registered.
        let staff_of = |name: &str| {
            demo_staff
                .iter()
                .find(|(u, _)| *u == name)
                .map(|(_, id)| *id)
        };
        if let (Some(insurer), Some(committee)) = (staff_of("insurer"), staff_of("officer")) {
            self.seed_demo_scheme(insurer, committee, today, now_us)
                .await?;
            self.seed_demo_clearing(insurer, today, now_us, seed)
                .await?;
            self.seed_demo_incentive_month(today).await?;
        }
        store
            .set_setting(DEMO_SETTING, &format!("seed={seed};residents={residents}"))
            .await?;
        let mut seeded = demo_entry(now_us, "Region", None);
        seeded.detail = Some(format!("seed={seed};residents={residents}"));
        self.audit.record(vec![seeded]).await?;
        Ok(summary)
    }

    /// Service packages, the demo doctor's own team, and contracts with residents of
    /// the demo centre signed over the past year (so some are due for renewal).
    async fn seed_contracts(
        &self,
        rng: &mut DemoRng,
        chc: i64,
        demo_staff: &[(&str, i64)],
        today: Date,
        now_us: i64,
    ) -> AppResult<u64> {
        let store = &self.store;
        let mut basic = None;
        for (code, name, is_basic, insurance_fen, public_health_fen, resident_fen) in DEMO_PACKAGES
        {
            let p = store
                .insert_package(
                    &NewPackage {
                        code: code.into(),
                        name: name.into(),
                        basic: is_basic,
                        split: FeeSplit {
                            insurance_fen,
                            public_health_fen,
                            resident_fen,
                        },
                    },
                    now_us,
                )
                .await?;
            if is_basic {
                basic = Some((p.id, p.split));
            }
        }
        let staff = |name: &str| {
            demo_staff
                .iter()
                .find(|(u, _)| *u == name)
                .map(|(_, id)| *id)
                .expect("demo staff")
        };
        let team = store
            .insert_team(
                &NewTeam {
                    institution_id: chc,
                    name: format!("{}团队", demo_staff_name("doctor")),
                    doctor_staff_id: staff("doctor"),
                    nurse_staff_id: staff("nurse"),
                    public_health_staff_id: staff("phdoctor"),
                },
                now_us,
                &[demo_entry(now_us, "Team", None)],
            )
            .await?;
        let basic = basic.expect("a basic package");
        let filter = ResidentFilter {
            home_institution_id: Some(chc),
            ..ResidentFilter::default()
        };
        let page = store.residents(&filter, None, DEMO_CONTRACTS_MAX).await?;
        let mut signed = 0;
        for r in &page.items {
            // Four in five residents of the centre have signed, on a day in the past year.
            if rng.below(5) == 0 {
                continue;
            }
            let start_on = today - Duration::days(rng.below(365) as i64);
            store
                .apply_contract_plan(
                    &ContractWrite {
                        resident_id: r.id,
                        close: Vec::new(),
                        end_reason: None,
                        open: Some(demo_contract(
                            (team.id, chc),
                            staff("doctor"),
                            basic,
                            start_on,
                        )),
                        now_us,
                    },
                    &[demo_entry(now_us, "Contract", Some(r.id))],
                )
                .await?;
            signed += 1;
        }
        Ok(signed)
    }

    async fn seed_staff(
        &self,
        rng: &mut DemoRng,
        institution: i64,
        district: &str,
        department: Option<i64>,
        role: Role,
        count: usize,
    ) -> AppResult<Vec<i64>> {
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            let sex = if rng.below(2) == 0 {
                Sex::Male
            } else {
                Sex::Female
            };
            let years = 3 + rng.below(25) as i64;
            let staff = self
                .store
                .insert_staff(
                    &NewStaff {
                        name: person_name(rng, sex),
                        role,
                        institution_id: Some(institution),
                        district_code: Some(district.to_owned()),
                        department_id: department,
                        licence_number: Some(format!("1101200{:08}", rng.below(100_000_000))),
                        // One draw whatever the role, so the rest of the region
                        // comes out as before.
                        title: {
                            let rung = rng.below(4) as usize;
                            staff_titles(role).map(|titles| titles[rung].to_owned())
                        },
                        practice_years: years,
                    },
                    self.now_us(),
                    &[demo_entry(self.now_us(), "Staff", None)],
                )
                .await?;
            ids.push(staff.id);
        }
        Ok(ids)
    }

    #[allow(clippy::too_many_arguments)]
    async fn seed_residents(
        &self,
        rng: &mut DemoRng,
        homes: &[Home],
        demo_doctor_home: i64,
        total: u64,
        today: Date,
        now_us: i64,
        progress: &mut impl FnMut(u64, u64),
    ) -> AppResult<()> {
        let mut book = SequenceBook::default();
        let mut batch: Vec<(ValidResident, i64)> = Vec::with_capacity(DEMO_BATCH);
        let mut household: Option<(String, u64, i64)> = None;
        let mut household_counter = 0u64;
        let mut done = 0u64;
        while done < total {
            // Every tenth resident belongs to the demo doctor's centre, so the doctor has
            // patients of their own however small the region.
            let home = if done.is_multiple_of(10) {
                homes
                    .iter()
                    .find(|h| h.institution_id == demo_doctor_home)
                    .expect("demo home")
            } else {
                rng.pick(homes)
            };
            let (d_code, d_name, _, _) = DISTRICTS[home.district_index];
            let area: u32 = d_code.parse().expect("numeric district code");
            let sex = if rng.below(100) < 51 {
                Sex::Male
            } else {
                Sex::Female
            };
            let mut birth =
                today - Duration::days(i64::from(age_years(rng)) * 365 + rng.below(365) as i64);
            let sequence = loop {
                match book.next(area, birth, sex) {
                    Some(s) => break s,
                    None => birth -= Duration::days(1),
                }
            };
            // Households of one to four people, registered at the same institution.
            let household_id = match &mut household {
                Some((id, left, inst)) if *left > 0 && *inst == home.institution_id => {
                    *left -= 1;
                    id.clone()
                }
                _ => {
                    household_counter += 1;
                    let id = format!("H{d_code}{household_counter:08}");
                    household = Some((id.clone(), rng.below(4), home.institution_id));
                    id
                }
            };
            let phone = format!("1{}{:09}", 3 + rng.below(7), rng.below(1_000_000_000));
            batch.push((
                ValidResident {
                    name: person_name(rng, sex),
                    sex,
                    birth_date: birth,
                    id_number: id_number(area, birth, sequence),
                    phone: Some(Phone::parse(&phone).expect("generated phone")),
                    address: Some(format!(
                        "{CITY_NAME}{d_name}{}{}号",
                        rng.pick(&STREETS),
                        1 + rng.below(300)
                    )),
                    household: Some(household_id),
                },
                home.institution_id,
            ));
            done += 1;
            if batch.len() == DEMO_BATCH || done == total {
                self.store
                    .insert_residents(&batch, now_us, &|ids: &[i64]| {
                        demo_batch(now_us, "Resident", ids)
                    })
                    .await?;
                batch.clear();
                progress(done, total);
            }
        }
        Ok(())
    }
}

/// The audit record of a demo write, staged in the write's transaction like any other
/// (the store names the created rows: one id, or a range for a batch).
pub(crate) fn demo_entry(now_us: i64, resource_type: &str, patient_id: Option<i64>) -> AuditEntry {
    AuditEntry {
        patient_id,
        ..AuditEntry::system(now_us, "demo.seed", resource_type)
    }
}

/// A demo contract with team `(id, institution)` on the basic package, signed by its
/// doctor on `start_on` for the usual term (DOMAIN.md §5: one year).
pub(crate) fn demo_contract(
    (team_id, institution_id): (i64, i64),
    signed_by_staff_id: i64,
    basic: (i64, FeeSplit),
    start_on: Date,
) -> OpenContract {
    let end_on = term_end(start_on);
    let until = (end_on + Duration::days(1))
        .with_time(time::Time::MIDNIGHT)
        .assume_offset(crate::DISPLAY_OFFSET);
    OpenContract {
        term: NewTerm {
            team_id,
            start_on,
            end_on,
            previous_id: None,
        },
        institution_id,
        packages: vec![basic],
        signed_by_staff_id,
        care_until_us: crate::unix_us(until),
    }
}

impl App {
    /// Insurance for the demo doctor's centre's residents under chronic care (城乡居民医保,
    /// the older ones retired employees with a personal account) and their 门特
    /// certification for each programme, this year and next — demo values, like the
    /// policy they settle under.
    async fn seed_insurance(&self, chc: i64, today: time::Date, now_us: i64) -> AppResult<()> {
        let store = &self.store;
        let from = time::Date::from_calendar_date(today.year(), time::Month::January, 1)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let until = time::Date::from_calendar_date(today.year() + 1, time::Month::December, 31)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut after = None;
        loop {
            let page = store
                .residents(
                    &ResidentFilter {
                        home_institution_id: Some(chc),
                        ..ResidentFilter::default()
                    },
                    after,
                    1_000,
                )
                .await?;
            for r in &page.items {
                let enrolments = store.enrolments_of_resident(r.id).await?;
                if enrolments.is_empty() {
                    continue;
                }
                let retired_employee =
                    gongti_core::resident::age_years(r.birth_date, today) >= 60 && r.id % 3 == 0;
                store
                    .set_insured(
                        &gongti_store::InsuredPerson {
                            resident_id: r.id,
                            psn_no: format!("SIMPSN{}", r.id),
                            insutype: if retired_employee {
                                "employee"
                            } else {
                                "resident"
                            }
                            .into(),
                            psn_type: if retired_employee {
                                "retired"
                            } else {
                                "working"
                            }
                            .into(),
                            account_balance_fen: if retired_employee {
                                DEMO_ACCOUNT_FEN
                            } else {
                                0
                            },
                        },
                        now_us,
                        &[demo_entry(now_us, "Coverage", Some(r.id))],
                    )
                    .await?;
                for e in &enrolments {
                    store
                        .certify_chronic(
                            r.id,
                            &gongti_store::Certification {
                                disease: e.disease.code().to_owned(),
                                valid_from: from,
                                valid_until: until,
                            },
                            now_us,
                            &[demo_entry(now_us, "Coverage", Some(r.id))],
                        )
                        .await?;
                }
            }
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        Ok(())
    }
}

pub use crate::demo_pharmacy::{STORY_DOCTOR, STORY_PATIENT};

/// A demo retired employee's personal account (个人账户), in fen.
pub const DEMO_ACCOUNT_FEN: i64 = 50_000;

/// The audit record of a demo batch, naming every row it created (none when empty).
pub(crate) fn demo_batch(now_us: i64, resource_type: &str, ids: &[i64]) -> Vec<AuditEntry> {
    if ids.is_empty() {
        return Vec::new();
    }
    let mut e = demo_entry(now_us, resource_type, None);
    e.resource_id = Some(gongti_core::coverage::encode_ids(ids.iter().copied()));
    vec![e]
}

fn demo_staff_name(username: &str) -> String {
    match username {
        "doctor" => "王建国",
        "nurse" => "李秀英",
        "phdoctor" => "赵志强",
        "manager" => "陈静",
        "pharmacist" => "刘洋",
        "specialist" => "张海涛",
        "reader" => "冯立新",
        "reader2" => "韩志远",
        "centreadmin" => "郑红梅",
        "hospadmin" => "马文华",
        "district" => "孙丽娟",
        "officer" => "周国庆",
        "insurer" => "吴敏",
        other => other,
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo's staff hold titles of their own trade that the prescribing rules know:
    /// every pharmacist's may review prescriptions, a physician's has its level, a
    /// nurse's is a nurse's; a health manager holds none.
    #[test]
    fn the_demo_staff_hold_the_titles_of_their_trade() {
        let kb = gongti_core::pharmacy::knowledge::Knowledge::builtin();
        for title in staff_titles(Role::Pharmacist).unwrap() {
            assert!(kb.may_review(Some(title), 5), "{title}");
        }
        for role in [
            Role::FamilyDoctor,
            Role::Specialist,
            Role::PublicHealthDoctor,
        ] {
            for title in staff_titles(role).unwrap() {
                assert!(kb.title(title).is_some(), "{role:?} {title}");
                assert!(!kb.may_review(Some(title), 30), "{role:?} {title}");
            }
        }
        for title in staff_titles(Role::Nurse).unwrap() {
            assert!(title.contains('护'), "{title}");
        }
        assert_eq!(staff_titles(Role::HealthManager), None);
        assert_eq!(staff_titles(Role::CityOfficer), None);
    }

    #[test]
    fn the_demo_rng_is_stable_across_releases() {
        let mut rng = DemoRng::new(42);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        let mut again = DemoRng::new(42);
        assert_eq!(first, (0..3).map(|_| again.next_u64()).collect::<Vec<_>>());
        assert_eq!(DemoRng::new(7).below(10), DemoRng::new(7).below(10));
    }

    #[test]
    fn sequence_numbers_never_repeat_and_carry_the_sex() {
        let mut book = SequenceBook::default();
        let day = time::macros::date!(1960 - 01 - 01);
        let men: Vec<u16> = (0..500)
            .map(|_| book.next(120101, day, Sex::Male).unwrap())
            .collect();
        assert!(men.iter().all(|s| s % 2 == 1));
        assert_eq!(book.next(120101, day, Sex::Male), None);
        assert_eq!(book.next(120101, day, Sex::Female), Some(0));
        let id = id_number(120101, day, men[7]);
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(id.birth_date(), day);
    }

    #[test]
    fn tianjin_has_sixteen_districts_and_266_grassroots_institutions() {
        assert_eq!(DISTRICTS.len(), 16);
        assert_eq!(DISTRICTS.iter().map(|d| d.2).sum::<u32>(), 266);
        assert!(DISTRICTS.iter().all(|d| d.0.starts_with("1201")));
    }
}
