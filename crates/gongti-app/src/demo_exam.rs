//! The demo region's cloud-examination day (DOMAIN.md §8), through the use cases a
//! person would use: the family doctor (`doctor`) orders an HbA1c from the cloud
//! laboratory for each patient of the laboratory's day — whose reports then name these
//! orders' placer numbers and complete them —, and a chest X-ray, an ECG and a head CT
//! for the demo's `patient`; the centre's diagnosing doctor (`reader`) has accepted the
//! ECG and the CT (whose report `reader` writes and `reader2` signs), so that the
//! centre's worklist holds one order received and two accepted. Once the
//! reports are in, the doctor takes `patient`'s recognised HbA1c instead of ordering it
//! again (结果互认).

use gongti_core::exam::orders::{Category, OrderStep};
use gongti_core::role::Role;

use crate::exam::orders::{OrderForm, Placed};
use crate::{App, AppError, AppResult, Ctx};

impl App {
    pub(crate) async fn demo_ctx(&self, username: &str) -> AppResult<Ctx> {
        let user = self
            .store
            .user_by_username(username)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(Ctx {
            principal: self.principal_of(&user).await?,
            request_id: None,
        })
    }

    /// Places the demo's orders (see the module); returns the placer number of each
    /// HbA1c order, in the order of `lab_residents`.
    pub async fn seed_demo_exam_orders(
        &self,
        lab_residents: &[i64],
        patient: Option<i64>,
    ) -> AppResult<Vec<String>> {
        let doctor = self.demo_ctx("doctor").await?;
        let reader = self.demo_ctx("reader").await?;
        debug_assert_eq!(reader.principal.role, Role::ExamReader);
        let centres = self.store.exam_centres().await?;
        let centre_of = |kind: Category| {
            centres
                .iter()
                .find(|c| {
                    c.kind == kind && Some(c.institution_id) == reader.principal.institution_id
                })
                .map(|c| c.id)
                .ok_or(AppError::NotFound)
        };
        let order =
            |resident: i64, item: &'static str, kind: Category, indication: &'static str| {
                let doctor = &doctor;
                async move {
                    let form = OrderForm {
                        item,
                        centre_id: Some(centre_of(kind)?),
                        priority: "routine",
                        indication,
                        reorder_reason: None,
                        reorder_text: "",
                    };
                    match self.place_exam_order(doctor, resident, &form).await? {
                        Placed::Order(o) => Ok(*o),
                        Placed::Recognised(_) => Err(AppError::Conflict("demo_order_recognised")),
                    }
                }
            };
        let mut placers = Vec::new();
        for &resident in lab_residents {
            let o = order(resident, "HBA1C", Category::Lab, "2型糖尿病 季度复查").await?;
            placers.push(o.placer_number);
        }
        if let Some(resident) = patient {
            order(
                resident,
                "XR-CHEST",
                Category::Imaging,
                "咳嗽两周，排除肺部感染",
            )
            .await?;
            let ecg = order(resident, "ECG-12", Category::Ecg, "高血压 年度心电图检查").await?;
            self.exam_order_step(&reader, ecg.id, OrderStep::Accept)
                .await?;
            let ct = order(
                resident,
                "CT-HEAD",
                Category::Imaging,
                "头痛伴头晕三天，血压控制不佳，排除脑出血",
            )
            .await?;
            self.exam_order_step(&reader, ct.id, OrderStep::Accept)
                .await?;
        }
        Ok(placers)
    }

    /// After the laboratory's day: the doctor, about to order `patient`'s HbA1c again,
    /// is shown this morning's recognised result and takes it (a duplicate exam avoided,
    /// for the 结果互认 figures). Returns whether a result was taken.
    pub async fn seed_demo_recognition(&self, patient: i64) -> AppResult<bool> {
        let doctor = self.demo_ctx("doctor").await?;
        let found = self.exam_order_check(&doctor, patient, "HBA1C").await?;
        let Some(first) = found.first() else {
            return Ok(false);
        };
        self.recognise_exam_result(&doctor, patient, "HBA1C", first.result.id)
            .await?;
        Ok(true)
    }
}
