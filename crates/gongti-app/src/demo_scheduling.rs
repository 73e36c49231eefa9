//! The demo region's appointment schedules: the first tertiary hospital publishes two
//! weeks of morning and afternoon clinics in each department (Sundays closed), each
//! holding back the default share for family doctors (DOMAIN.md §3).

use gongti_core::scheduling::{ReserveParams, ScheduleDraft, Session, plan_schedule};
use gongti_store::NewSchedule;
use time::{Date, Duration, Weekday};

use crate::scheduling::local_us;
use crate::{App, AppResult};

/// Days ahead the demo publishes, and slots per session.
const DEMO_SCHEDULE_DAYS: i64 = 14;
const DEMO_SLOTS_PER_SESSION: u32 = 30;

impl App {
    /// Publishes the demo schedules of `hospital`; the first department's clinics are
    /// the demo specialist's. Returns how many were published.
    pub(crate) async fn seed_demo_schedules(
        &self,
        hospital: i64,
        specialist: Option<i64>,
        admin: i64,
        today: Date,
    ) -> AppResult<u64> {
        let params = ReserveParams::default();
        let now_us = self.now_us();
        let mut published = 0;
        for (index, department) in self.store.departments(hospital).await?.iter().enumerate() {
            for ahead in 1..=DEMO_SCHEDULE_DAYS {
                let day = today + Duration::days(ahead);
                if day.weekday() == Weekday::Sunday {
                    continue;
                }
                for session in [Session::Morning, Session::Afternoon] {
                    let draft = ScheduleDraft {
                        day,
                        session,
                        starts: None,
                        ends: None,
                        slot_count: DEMO_SLOTS_PER_SESSION,
                    };
                    let slots = plan_schedule(&draft, today, &params)
                        .map_err(|p| anyhow::anyhow!("demo schedule: {p:?}"))?;
                    let doctor = if index == 0 { specialist } else { None };
                    let new = NewSchedule {
                        institution_id: hospital,
                        department_id: department.id,
                        doctor_staff_id: doctor,
                        clinic_name: doctor
                            .is_none()
                            .then(|| format!("{}普通门诊", department.name)),
                        day,
                        session,
                        params,
                        slots: slots
                            .iter()
                            .map(|s| (s.seq, local_us(s.starts), local_us(s.ends), s.pool))
                            .collect(),
                        created_by_staff_id: admin,
                    };
                    self.store
                        .insert_schedule(
                            &new,
                            now_us,
                            &[crate::demo::demo_entry(now_us, "Schedule", None)],
                        )
                        .await?;
                    published += 1;
                }
            }
        }
        Ok(published)
    }
}
