//! Schedules, slots and bookings at upper hospitals (DOMAIN.md §3): the share of slots
//! held back for grassroots family doctors (预留号源), its release to the public, capacity
//! changes that never drop a booked patient, and the booking lifecycle. Pure rules: the
//! caller loads, calls, persists and audits.

use time::{Date, Duration, PrimitiveDateTime, Time};

use crate::problem::{FieldProblem, Problem};

/// The reserved-pool parameters of a hospital or one of its departments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReserveParams {
    /// Share of each schedule's slots held back for family doctors, in ‰
    /// (DOMAIN.md §3: 10 %, a parameter; Beijing uses ≥ 30 %).
    pub reserved_permille: u16,
    /// Reserved slots still free this many days before the visit open to the public.
    pub release_days: u16,
}

impl Default for ReserveParams {
    fn default() -> Self {
        ReserveParams {
            reserved_permille: 100,
            release_days: 2,
        }
    }
}

/// Most slots one schedule may have.
pub const SLOTS_PER_SCHEDULE_MAX: u32 = 200;
/// How far ahead a schedule may be published, in days.
pub const PUBLISH_AHEAD_DAYS_MAX: i64 = 90;
/// Shortest slot, in minutes.
pub const SLOT_MINUTES_MIN: i64 = 1;
/// Highest reserved share, in ‰ (all slots).
pub const RESERVED_PERMILLE_MAX: u16 = 1000;
/// Longest release window, in days.
pub const RELEASE_DAYS_MAX: u16 = 60;

/// Half-day session of a clinic (上午 / 下午).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    Morning,
    Afternoon,
}

impl Session {
    pub fn code(self) -> &'static str {
        match self {
            Session::Morning => "am",
            Session::Afternoon => "pm",
        }
    }

    pub fn parse(code: &str) -> Option<Session> {
        match code {
            "am" => Some(Session::Morning),
            "pm" => Some(Session::Afternoon),
            _ => None,
        }
    }

    /// The session's default hours, local time: 08:00–12:00 and 13:30–17:30.
    pub fn default_hours(self) -> (Time, Time) {
        let t = |h, m| Time::from_hms(h, m, 0).expect("a valid time");
        match self {
            Session::Morning => (t(8, 0), t(12, 0)),
            Session::Afternoon => (t(13, 30), t(17, 30)),
        }
    }
}

/// Which pool a slot belongs to, or which pool a booking was made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pool {
    /// Held back for grassroots family doctors.
    Reserved,
    Public,
}

impl Pool {
    pub fn code(self) -> &'static str {
        match self {
            Pool::Reserved => "reserved",
            Pool::Public => "public",
        }
    }

    pub fn parse(code: &str) -> Option<Pool> {
        match code {
            "reserved" => Some(Pool::Reserved),
            "public" => Some(Pool::Public),
            _ => None,
        }
    }
}

/// A share entered in per cent (one decimal) as ‰; anything not a number from 0 to
/// 100 maps past [`RESERVED_PERMILLE_MAX`], where validation refuses it.
pub fn permille_from_percent(percent: f64) -> u16 {
    if percent.is_finite() && (0.0..=100.0).contains(&percent) {
        (percent * 10.0).round() as u16
    } else {
        u16::MAX
    }
}

/// Slots held back out of `slot_count`: the share rounded up, so that a schedule with
/// any reserved share holds back at least one slot.
pub fn reserved_count(slot_count: u32, reserved_permille: u16) -> u32 {
    let permille = u64::from(reserved_permille.min(RESERVED_PERMILLE_MAX));
    let n = (u64::from(slot_count) * permille).div_ceil(1000);
    u32::try_from(n).unwrap_or(slot_count).min(slot_count)
}

/// The pool of slot `seq` (0-based) when `reserved` of `slot_count` slots are held
/// back: spread evenly over the session, the first slot included, so that family
/// doctors get early and late times alike.
pub fn pool_of(seq: u32, slot_count: u32, reserved: u32) -> Pool {
    if slot_count == 0 {
        return Pool::Public;
    }
    let at = (u64::from(seq) * u64::from(reserved)) % u64::from(slot_count);
    if at < u64::from(reserved) {
        Pool::Reserved
    } else {
        Pool::Public
    }
}

/// Whether a slot of `pool` for a visit on `day` may be booked by the public today:
/// public slots always; reserved ones once they are within the release window.
pub fn open_to_public(pool: Pool, day: Date, today: Date, params: &ReserveParams) -> bool {
    match pool {
        Pool::Public => true,
        Pool::Reserved => (day - today).whole_days() <= i64::from(params.release_days),
    }
}

/// Whether a booking through `via` may take a slot of `pool`: the reserved pool takes
/// reserved slots only (released or not); the public pool takes public slots and
/// released reserved ones.
pub fn may_take(via: Pool, pool: Pool, day: Date, today: Date, params: &ReserveParams) -> bool {
    match via {
        Pool::Reserved => pool == Pool::Reserved,
        Pool::Public => open_to_public(pool, day, today, params),
    }
}

/// A schedule as an administrator enters it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleDraft {
    pub day: Date,
    pub session: Session,
    /// Local start and end; the session's default hours when absent.
    pub starts: Option<Time>,
    pub ends: Option<Time>,
    pub slot_count: u32,
}

/// One slot of a planned schedule, in local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedSlot {
    pub seq: u32,
    pub starts: PrimitiveDateTime,
    pub ends: PrimitiveDateTime,
    pub pool: Pool,
}

/// Checks a schedule (every problem at once) and lays out its slots: equal lengths
/// over the session, the reserved share spread by [`pool_of`].
pub fn plan_schedule(
    draft: &ScheduleDraft,
    today: Date,
    params: &ReserveParams,
) -> Result<Vec<PlannedSlot>, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    if draft.day < today {
        problems.push(FieldProblem::new("day", Problem::InPast));
    } else if (draft.day - today).whole_days() > PUBLISH_AHEAD_DAYS_MAX {
        problems.push(FieldProblem::new(
            "day",
            Problem::OutOfRange {
                min: "today",
                max: "today + 90 days",
            },
        ));
    }
    if draft.slot_count == 0 || draft.slot_count > SLOTS_PER_SCHEDULE_MAX {
        problems.push(FieldProblem::new(
            "slot_count",
            Problem::OutOfRange {
                min: "1",
                max: "200",
            },
        ));
    }
    let (default_starts, default_ends) = draft.session.default_hours();
    let starts = draft.starts.unwrap_or(default_starts);
    let ends = draft.ends.unwrap_or(default_ends);
    let minutes = (ends - starts).whole_minutes();
    if minutes <= 0 {
        problems.push(FieldProblem::new(
            "ends_at",
            Problem::Inconsistent { with: "starts_at" },
        ));
    } else if draft.slot_count > 0 && minutes / i64::from(draft.slot_count) < SLOT_MINUTES_MIN {
        problems.push(FieldProblem::new(
            "slot_count",
            Problem::Inconsistent { with: "ends_at" },
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let span = ends - starts;
    let reserved = reserved_count(draft.slot_count, params.reserved_permille);
    let start = PrimitiveDateTime::new(draft.day, starts);
    let n = i32::try_from(draft.slot_count).unwrap_or(i32::MAX);
    Ok((0..draft.slot_count)
        .map(|seq| {
            let i = i32::try_from(seq).unwrap_or(i32::MAX);
            PlannedSlot {
                seq,
                starts: start + span * i / n,
                ends: start + span * (i + 1) / n,
                pool: pool_of(seq, draft.slot_count, reserved),
            }
        })
        .collect())
}

/// A live slot as a capacity change sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotState {
    pub seq: u32,
    pub pool: Pool,
    pub booked: bool,
}

/// What a capacity change does: withdraw free slots, append new ones after the last
/// (same length), and move free slots between pools to keep the reserved share.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapacityPlan {
    pub withdraw: Vec<u32>,
    /// (seq, pool) of appended slots; seq continues after the highest one in use.
    pub append: Vec<(u32, Pool)>,
    pub repool: Vec<(u32, Pool)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CapacityError {
    /// Fewer slots than patients already booked: nobody is dropped silently.
    #[error("{booked} patients are booked; the schedule cannot have fewer slots")]
    BelowBookings { booked: u32 },
    #[error("a schedule has 1 to 200 slots")]
    OutOfRange,
}

/// Plans a change of a published schedule to `new_count` slots. Booked slots are
/// never withdrawn or moved; free ones are withdrawn from the end; the reserved share
/// of the new count is kept by moving free slots (the newest first) between pools.
/// `live` is the schedule's live slots in any order; `next_seq` the first unused seq.
pub fn plan_capacity(
    live: &[SlotState],
    next_seq: u32,
    new_count: u32,
    params: &ReserveParams,
) -> Result<CapacityPlan, CapacityError> {
    if new_count == 0 || new_count > SLOTS_PER_SCHEDULE_MAX {
        return Err(CapacityError::OutOfRange);
    }
    let booked = u32::try_from(live.iter().filter(|s| s.booked).count()).unwrap_or(u32::MAX);
    if new_count < booked {
        return Err(CapacityError::BelowBookings { booked });
    }
    let target_reserved = reserved_count(new_count, params.reserved_permille);
    let mut slots: Vec<SlotState> = live.to_vec();
    slots.sort_by_key(|s| s.seq);
    let mut plan = CapacityPlan::default();
    let live_count = u32::try_from(slots.len()).unwrap_or(u32::MAX);
    if new_count < live_count {
        let mut to_withdraw = live_count - new_count;
        let mut reserved_now = slots.iter().filter(|s| s.pool == Pool::Reserved).count();
        // First pass: free slots from the end, sparing reserved ones the share needs.
        for pass in 0..2 {
            for s in slots.iter().rev() {
                if to_withdraw == 0 {
                    break;
                }
                if s.booked || plan.withdraw.contains(&s.seq) {
                    continue;
                }
                let spare = s.pool == Pool::Public || reserved_now > target_reserved as usize;
                if pass == 1 || spare {
                    if s.pool == Pool::Reserved {
                        reserved_now -= 1;
                    }
                    plan.withdraw.push(s.seq);
                    to_withdraw -= 1;
                }
            }
        }
        slots.retain(|s| !plan.withdraw.contains(&s.seq));
    } else {
        for seq in next_seq..next_seq + (new_count - live_count) {
            plan.append.push((seq, Pool::Public));
            slots.push(SlotState {
                seq,
                pool: Pool::Public,
                booked: false,
            });
        }
    }
    // Keep the share: move free slots, newest first, between pools.
    let mut reserved_now = slots.iter().filter(|s| s.pool == Pool::Reserved).count() as u32;
    for s in slots.iter_mut().rev() {
        if s.booked {
            continue;
        }
        let to = if reserved_now < target_reserved && s.pool == Pool::Public {
            reserved_now += 1;
            Pool::Reserved
        } else if reserved_now > target_reserved && s.pool == Pool::Reserved {
            reserved_now -= 1;
            Pool::Public
        } else {
            continue;
        };
        s.pool = to;
        match plan.append.iter_mut().find(|(seq, _)| *seq == s.seq) {
            Some(appended) => appended.1 = to,
            None => plan.repool.push((s.seq, to)),
        }
    }
    Ok(plan)
}

/// Where a booking stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingStatus {
    Booked,
    CheckedIn,
    Cancelled,
    NoShow,
}

impl BookingStatus {
    pub fn code(self) -> &'static str {
        match self {
            BookingStatus::Booked => "booked",
            BookingStatus::CheckedIn => "checked_in",
            BookingStatus::Cancelled => "cancelled",
            BookingStatus::NoShow => "no_show",
        }
    }

    pub fn parse(code: &str) -> Option<BookingStatus> {
        match code {
            "booked" => Some(BookingStatus::Booked),
            "checked_in" => Some(BookingStatus::CheckedIn),
            "cancelled" => Some(BookingStatus::Cancelled),
            "no_show" => Some(BookingStatus::NoShow),
            _ => None,
        }
    }

    /// Whether the booking still holds its slot.
    pub fn holds_slot(self) -> bool {
        matches!(self, BookingStatus::Booked | BookingStatus::CheckedIn)
    }
}

/// A change to a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingAction {
    /// The patient arrives (on the visit day).
    CheckIn,
    /// Before the slot starts; frees the slot.
    Cancel,
    /// After the slot ended without a check-in.
    NoShow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BookingError {
    #[error("the booking is {0:?}, not booked")]
    NotBooked(BookingStatus),
    #[error("too early for this")]
    TooEarly,
    #[error("too late for this")]
    TooLate,
}

/// The instants of a booking's slot (µs since the epoch, UTC) and its local visit day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotWhen {
    pub starts_at_us: i64,
    pub ends_at_us: i64,
    pub day: Date,
}

/// The booking lifecycle: booked → checked in (on the day) / cancelled (before the
/// slot starts) / no-show (after it ends).
pub fn transition(
    status: BookingStatus,
    action: BookingAction,
    slot: SlotWhen,
    now_us: i64,
    today: Date,
) -> Result<BookingStatus, BookingError> {
    if status != BookingStatus::Booked {
        return Err(BookingError::NotBooked(status));
    }
    match action {
        BookingAction::Cancel if now_us < slot.starts_at_us => Ok(BookingStatus::Cancelled),
        BookingAction::Cancel => Err(BookingError::TooLate),
        BookingAction::CheckIn if today < slot.day => Err(BookingError::TooEarly),
        BookingAction::CheckIn if today > slot.day => Err(BookingError::TooLate),
        BookingAction::CheckIn => Ok(BookingStatus::CheckedIn),
        BookingAction::NoShow if now_us < slot.ends_at_us => Err(BookingError::TooEarly),
        BookingAction::NoShow => Ok(BookingStatus::NoShow),
    }
}

/// The first day a reserved slot of a visit on `day` opens to the public.
pub fn release_day(day: Date, params: &ReserveParams) -> Date {
    day - Duration::days(i64::from(params.release_days))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, time};

    const P: ReserveParams = ReserveParams {
        reserved_permille: 100,
        release_days: 2,
    };

    #[test]
    fn reserved_share_is_ten_percent_rounded_up() {
        // DOMAIN.md §3: 10 % (param) held back for family doctors.
        for (count, permille, expected) in [
            (30, 100, 3),
            (20, 100, 2),
            (25, 100, 3),
            (1, 100, 1),
            (9, 100, 1),
            (10, 0, 0),
            (10, 300, 3),
            (7, 1000, 7),
            (200, 100, 20),
        ] {
            assert_eq!(
                reserved_count(count, permille),
                expected,
                "{count} slots at {permille}‰"
            );
        }
    }

    #[test]
    fn percent_entries_become_permille() {
        assert_eq!(permille_from_percent(10.0), 100);
        assert_eq!(permille_from_percent(12.5), 125);
        assert_eq!(permille_from_percent(100.0), 1000);
        assert_eq!(permille_from_percent(-1.0), u16::MAX);
        assert_eq!(permille_from_percent(f64::NAN), u16::MAX);
        assert_eq!(permille_from_percent(100.1), u16::MAX);
    }

    #[test]
    fn reserved_slots_are_spread_over_the_session() {
        let pools: Vec<Pool> = (0..30).map(|s| pool_of(s, 30, 3)).collect();
        let reserved: Vec<usize> = (0..30).filter(|&i| pools[i] == Pool::Reserved).collect();
        assert_eq!(reserved, vec![0, 10, 20]);
        for (n, r) in [(10, 3), (7, 2), (200, 20), (5, 5), (5, 0), (13, 1)] {
            let got = (0..n)
                .filter(|&s| pool_of(s, n, r) == Pool::Reserved)
                .count();
            assert_eq!(got as u32, r, "{r} of {n}");
        }
    }

    #[test]
    fn reserved_slots_open_to_the_public_within_the_release_window() {
        // DOMAIN.md §3: reserved slots still free N days before the visit are released.
        let day = date!(2026 - 12 - 10);
        for (today, reserved_open, public_open) in [
            (date!(2026 - 12 - 01), false, true),
            (date!(2026 - 12 - 07), false, true),
            (date!(2026 - 12 - 08), true, true),
            (date!(2026 - 12 - 10), true, true),
        ] {
            assert_eq!(
                open_to_public(Pool::Reserved, day, today, &P),
                reserved_open,
                "{today}"
            );
            assert_eq!(open_to_public(Pool::Public, day, today, &P), public_open);
        }
        assert_eq!(release_day(day, &P), date!(2026 - 12 - 08));
        // Family doctors keep the reserved pool, released or not; never the public one.
        let early = date!(2026 - 12 - 01);
        assert!(may_take(Pool::Reserved, Pool::Reserved, day, early, &P));
        assert!(may_take(Pool::Reserved, Pool::Reserved, day, day, &P));
        assert!(!may_take(Pool::Reserved, Pool::Public, day, early, &P));
        assert!(!may_take(Pool::Public, Pool::Reserved, day, early, &P));
        assert!(may_take(Pool::Public, Pool::Reserved, day, day, &P));
    }

    #[test]
    fn a_schedule_is_laid_out_in_equal_slots() {
        let draft = ScheduleDraft {
            day: date!(2026 - 12 - 10),
            session: Session::Morning,
            starts: None,
            ends: None,
            slot_count: 24,
        };
        let slots = plan_schedule(&draft, date!(2026 - 12 - 01), &P).unwrap();
        assert_eq!(slots.len(), 24);
        assert_eq!(slots[0].starts.time(), time!(8:00));
        assert_eq!(slots[0].ends.time(), time!(8:10));
        assert_eq!(slots[23].ends.time(), time!(12:00));
        assert_eq!(slots.iter().filter(|s| s.pool == Pool::Reserved).count(), 3);
    }

    #[test]
    fn a_bad_schedule_lists_every_problem() {
        let draft = ScheduleDraft {
            day: date!(2026 - 11 - 30),
            session: Session::Afternoon,
            starts: Some(time!(17:00)),
            ends: Some(time!(13:00)),
            slot_count: 0,
        };
        let problems = plan_schedule(&draft, date!(2026 - 12 - 01), &P).unwrap_err();
        let fields: Vec<_> = problems
            .iter()
            .map(|p| (p.field, p.problem.code()))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("day", "in_past"),
                ("slot_count", "out_of_range"),
                ("ends_at", "inconsistent")
            ]
        );
        let far = ScheduleDraft {
            day: date!(2027 - 06 - 01),
            session: Session::Morning,
            starts: Some(time!(8:00)),
            ends: Some(time!(8:30)),
            slot_count: 31,
        };
        let problems = plan_schedule(&far, date!(2026 - 12 - 01), &P).unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, vec!["day", "slot_count"]);
    }

    fn live(spec: &str) -> Vec<SlotState> {
        // One letter per slot: r/p free reserved/public, R/P booked.
        spec.chars()
            .enumerate()
            .map(|(i, c)| SlotState {
                seq: i as u32,
                pool: if c.eq_ignore_ascii_case(&'r') {
                    Pool::Reserved
                } else {
                    Pool::Public
                },
                booked: c.is_ascii_uppercase(),
            })
            .collect()
    }

    #[test]
    fn capacity_changes_never_drop_a_booked_patient() {
        // Cutting below the bookings is refused.
        assert_eq!(
            plan_capacity(&live("RPPPp"), 5, 3, &P),
            Err(CapacityError::BelowBookings { booked: 4 })
        );
        assert_eq!(
            plan_capacity(&live("rp"), 2, 0, &P),
            Err(CapacityError::OutOfRange)
        );
        // Cutting withdraws free slots from the end, never booked ones.
        let plan = plan_capacity(&live("rPpPpp"), 6, 3, &P).unwrap();
        assert_eq!(plan.withdraw, vec![5, 4, 2]);
        assert!(plan.append.is_empty() && plan.repool.is_empty());
        // The reserved slot the share needs is spared while public ones can go.
        let plan = plan_capacity(&live("pppppppppr"), 10, 5, &P).unwrap();
        assert_eq!(plan.withdraw, vec![8, 7, 6, 5, 4]);
        // Growing appends public slots and tops up the reserved share from them.
        let plan = plan_capacity(&live("RPPPPPPPPP"), 10, 20, &P).unwrap();
        assert_eq!(plan.append.len(), 10);
        assert_eq!(plan.append[9], (19, Pool::Reserved));
        assert_eq!(
            plan.append
                .iter()
                .filter(|(_, p)| *p == Pool::Reserved)
                .count(),
            1
        );
        assert!(plan.repool.is_empty());
        // A smaller schedule hands a surplus free reserved slot back to the public.
        let plan = plan_capacity(
            &live("rpprpppppp"),
            10,
            10,
            &ReserveParams {
                reserved_permille: 100,
                release_days: 2,
            },
        )
        .unwrap();
        assert_eq!(plan.repool, vec![(3, Pool::Public)]);
    }

    #[test]
    fn the_booking_lifecycle() {
        let slot = SlotWhen {
            starts_at_us: 1_000,
            ends_at_us: 2_000,
            day: date!(2026 - 12 - 10),
        };
        let before = date!(2026 - 12 - 09);
        let on = date!(2026 - 12 - 10);
        let after = date!(2026 - 12 - 11);
        use BookingAction as A;
        use BookingStatus as S;
        for (status, action, now, today, expected) in [
            (S::Booked, A::Cancel, 999, before, Ok(S::Cancelled)),
            (S::Booked, A::Cancel, 1_000, on, Err(BookingError::TooLate)),
            (
                S::Booked,
                A::CheckIn,
                500,
                before,
                Err(BookingError::TooEarly),
            ),
            (S::Booked, A::CheckIn, 1_500, on, Ok(S::CheckedIn)),
            (
                S::Booked,
                A::CheckIn,
                3_000,
                after,
                Err(BookingError::TooLate),
            ),
            (S::Booked, A::NoShow, 1_999, on, Err(BookingError::TooEarly)),
            (S::Booked, A::NoShow, 2_000, on, Ok(S::NoShow)),
            (
                S::CheckedIn,
                A::Cancel,
                0,
                before,
                Err(BookingError::NotBooked(S::CheckedIn)),
            ),
            (
                S::Cancelled,
                A::CheckIn,
                1_500,
                on,
                Err(BookingError::NotBooked(S::Cancelled)),
            ),
        ] {
            assert_eq!(
                transition(status, action, slot, now, today),
                expected,
                "{status:?} {action:?} at {now}"
            );
        }
        assert!(S::Booked.holds_slot() && S::CheckedIn.holds_slot());
        assert!(!S::Cancelled.holds_slot() && !S::NoShow.holds_slot());
    }
}
