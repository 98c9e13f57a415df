//! On-call rotas: each study may have one (else the global rota applies). Members take turns a
//! week at a time from a start date at a handoff hour in the rota's time zone; the next in line
//! is the secondary. Overrides put someone else on call for a while (holidays, swaps). Alerts
//! ask [`OnCall::shift`] whom to tell first and whom to escalate to.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use steward_frontend::contract::{
    FieldError, OverrideInput, RotaInput, RotaOverride, RotaPersonView, RotaRole, RotaView, RotaWeek, Word,
};

use crate::clock::SharedClock;
use crate::services::audit::{Actor, Audit};
use crate::services::error::{Error, OrNotFound};
use crate::services::words::stored;
use crate::store::{OverrideRow, RotaFields, RotaPerson, RotaRow, Store};

/// Weeks the calendar shows.
const CALENDAR_WEEKS: i64 = 8;
const WEEK: i64 = 7 * 24 * 3600;

/// Who is on call at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shift {
    pub primary: Option<RotaPerson>,
    pub secondary: Option<RotaPerson>,
}

/// The first handoff: `starts_on` at `handoff_hour` in the rota's zone.
fn anchor(rota: &RotaRow) -> Option<DateTime<Utc>> {
    let tz: Tz = rota.timezone.parse().ok()?;
    let date = NaiveDate::parse_from_str(&rota.starts_on, "%Y-%m-%d").ok()?;
    let local = date.and_hms_opt(u32::try_from(rota.handoff_hour).ok()?, 0, 0)?;
    tz.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc))
}

/// Who is on call at `at`: the member whose week it is, the next one as secondary, and any
/// override active then in their place (the latest override wins).
pub fn on_call(rota: &RotaRow, members: &[RotaPerson], overrides: &[OverrideRow], at: DateTime<Utc>) -> Shift {
    let mut shift = Shift::default();
    if let Some(start) = anchor(rota)
        && !members.is_empty()
    {
        let n = members.len() as i64;
        let week = (at - start).num_seconds().div_euclid(WEEK);
        shift.primary = Some(members[week.rem_euclid(n) as usize].clone());
        if n > 1 {
            shift.secondary = Some(members[(week + 1).rem_euclid(n) as usize].clone());
        }
    }
    for o in overrides.iter().filter(|o| o.starts_at <= at && at < o.ends_at) {
        let person = RotaPerson {
            user_id: o.user_id,
            username: o.username.clone(),
            display_name: o.display_name.clone(),
            email: o.email.clone(),
        };
        if o.role == RotaRole::Primary.as_str() {
            shift.primary = Some(person);
        } else {
            shift.secondary = Some(person);
        }
    }
    shift
}

#[derive(Clone, Debug)]
pub struct OnCall {
    store: Store,
    clock: SharedClock,
    audit: Audit,
}

fn field(field: &str, message: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), message: message.into() }
}

impl OnCall {
    pub fn new(store: Store, clock: SharedClock, audit: Audit) -> Self {
        Self { store, clock, audit }
    }

    /// The rota that applies to a study (its own if it has members, else the global one) and
    /// who is on call now.
    pub async fn shift(&self, study_id: Option<i64>) -> Result<Option<(RotaRow, Shift)>, crate::store::StoreError> {
        let now = self.clock.now();
        for scope in [study_id, None] {
            if let Some(rota) = self.store.rota(scope).await? {
                let members = self.store.rota_members(rota.id).await?;
                let overrides = self.store.rota_overrides(rota.id, now).await?;
                let shift = on_call(&rota, &members, &overrides, now);
                if shift.primary.is_some() {
                    return Ok(Some((rota, shift)));
                }
            }
            if scope.is_none() {
                break;
            }
        }
        Ok(None)
    }

    pub async fn view(&self, study_id: Option<i64>) -> Result<RotaView, Error> {
        let scope_name = match study_id {
            Some(id) => self.store.study(id, 0).await.or_not_found("The study")?.name,
            None => "All studies".to_owned(),
        };
        let now = self.clock.now();
        let Some(rota) = self.store.rota(study_id).await? else {
            return Ok(RotaView {
                study_id,
                scope_name,
                configured: false,
                timezone: "UTC".into(),
                starts_on: now.date_naive().format("%Y-%m-%d").to_string(),
                handoff_hour: 9,
                escalate_after_minutes: 30,
                renotify_minutes: 60,
                members: vec![],
                overrides: vec![],
                weeks: vec![],
                primary_now: None,
                secondary_now: None,
            });
        };
        let members = self.store.rota_members(rota.id).await?;
        let overrides = self.store.rota_overrides(rota.id, now).await?;
        let shift = on_call(&rota, &members, &overrides, now);
        let mut weeks = Vec::new();
        if let Some(start) = anchor(&rota) {
            let current = (now - start).num_seconds().div_euclid(WEEK);
            for k in 0..CALENDAR_WEEKS {
                let starts_at = start + Duration::seconds((current + k) * WEEK);
                let ends_at = starts_at + Duration::seconds(WEEK);
                let at = on_call(&rota, &members, &overrides, starts_at);
                weeks.push(RotaWeek {
                    starts_at,
                    primary: at.primary.map(|p| p.username),
                    secondary: at.secondary.map(|p| p.username),
                    overridden: overrides.iter().any(|o| o.starts_at < ends_at && o.ends_at > starts_at),
                });
            }
        }
        Ok(RotaView {
            study_id,
            scope_name,
            configured: true,
            timezone: rota.timezone.clone(),
            starts_on: rota.starts_on.clone(),
            handoff_hour: rota.handoff_hour,
            escalate_after_minutes: rota.escalate_after_minutes,
            renotify_minutes: rota.renotify_minutes,
            members: members
                .iter()
                .map(|m| RotaPersonView { username: m.username.clone(), display_name: m.display_name.clone() })
                .collect(),
            overrides: overrides
                .into_iter()
                .map(|o| RotaOverride {
                    id: o.id,
                    username: o.username,
                    role: stored(&o.role, RotaRole::Primary),
                    starts_at: o.starts_at,
                    ends_at: o.ends_at,
                    note: o.note,
                })
                .collect(),
            weeks,
            primary_now: shift.primary.map(|p| p.username),
            secondary_now: shift.secondary.map(|p| p.username),
        })
    }

    /// A person who may be on call for the study: an active user, for a study a member who is
    /// not only a researcher or viewer.
    async fn person(&self, study_id: Option<i64>, username: &str) -> Result<Result<i64, String>, Error> {
        let found = self.store.user_for_rota(username, study_id).await?;
        Ok(match found {
            None => Err(format!("There is no active user {username:?}")),
            Some((_, None)) if study_id.is_some() => Err(format!("{username} is not a member of this study")),
            Some((_, Some(role))) if matches!(role.as_str(), "researcher" | "viewer") => {
                Err(format!("{username} is a {role} here; make them on-call, operator or study-admin first"))
            }
            Some((id, _)) => Ok(id),
        })
    }

    pub async fn save(&self, actor: &Actor, input: RotaInput) -> Result<RotaView, Error> {
        let mut errors = Vec::new();
        let timezone = input.timezone.trim();
        if timezone.parse::<Tz>().is_err() {
            errors.push(field("timezone", format!("{timezone:?} is not a time zone (like Europe/Zurich or UTC)")));
        }
        let starts_on = input.starts_on.trim();
        if NaiveDate::parse_from_str(starts_on, "%Y-%m-%d").is_err() {
            errors.push(field("starts_on", "Give the date the first week starts, as YYYY-MM-DD"));
        }
        let number = |name: &str, text: &str, range: std::ops::RangeInclusive<i64>, what: &str| {
            text.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| field(name, format!("Give {what} from {} to {}", range.start(), range.end())))
        };
        let hour = number("handoff_hour", &input.handoff_hour, 0..=23, "an hour");
        let escalate = number("escalate_after_minutes", &input.escalate_after_minutes, 1..=1440, "minutes");
        let renotify = number("renotify_minutes", &input.renotify_minutes, 5..=10080, "minutes");
        let mut members = Vec::new();
        for username in input.members.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match self.person(input.study_id, username).await? {
                Ok(id) if members.contains(&id) => errors.push(field("members", format!("{username} is listed twice"))),
                Ok(id) => members.push(id),
                Err(message) => errors.push(field("members", message)),
            }
        }
        if members.is_empty() && !errors.iter().any(|e| e.field == "members") {
            errors.push(field("members", "Name at least one person, one username per line, in turn order"));
        }
        let (hour, escalate, renotify) = match (hour, escalate, renotify) {
            (Ok(h), Ok(e), Ok(r)) if errors.is_empty() => (h, e, r),
            (h, e, r) => {
                errors.extend([h.err(), e.err(), r.err()].into_iter().flatten());
                return Err(Error::InvalidFields { errors });
            }
        };
        let fields = RotaFields {
            timezone,
            starts_on,
            handoff_hour: hour,
            escalate_after_minutes: escalate,
            renotify_minutes: renotify,
        };
        self.store.save_rota(input.study_id, &fields, &members, self.clock.now()).await?;
        let view = self.view(input.study_id).await?;
        let who = view.members.iter().map(|m| m.username.as_str()).collect::<Vec<_>>().join(", ");
        self.audit.record(actor, "rota.saved", &format!("rota of {}", view.scope_name), &who).await;
        Ok(view)
    }

    async fn rota_of(&self, study_id: Option<i64>) -> Result<RotaRow, Error> {
        self.store
            .rota(study_id)
            .await?
            .ok_or_else(|| Error::Invalid { field: None, message: "Save the rota first".into() })
    }

    /// A datetime-local value in the rota's zone.
    fn local_time(text: &str, tz: Tz, name: &str) -> Result<DateTime<Utc>, FieldError> {
        NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M")
            .ok()
            .and_then(|local| tz.from_local_datetime(&local).earliest())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| field(name, "Give a date and time, as YYYY-MM-DDTHH:MM"))
    }

    pub async fn add_override(&self, actor: &Actor, input: OverrideInput) -> Result<RotaView, Error> {
        let rota = self.rota_of(input.study_id).await?;
        let tz: Tz = rota.timezone.parse().unwrap_or(Tz::UTC);
        let mut errors = Vec::new();
        let user = match self.person(input.study_id, input.username.trim()).await? {
            Ok(id) => Some(id),
            Err(message) => {
                errors.push(field("username", message));
                None
            }
        };
        let role = RotaRole::parse(input.role.trim());
        if role.is_none() {
            errors.push(field("role", "Choose primary or secondary"));
        }
        let starts = Self::local_time(&input.starts_at, tz, "starts_at").map_err(|e| errors.push(e)).ok();
        let ends = Self::local_time(&input.ends_at, tz, "ends_at").map_err(|e| errors.push(e)).ok();
        if let (Some(s), Some(e)) = (starts, ends)
            && e <= s
        {
            errors.push(field("ends_at", "The override must end after it starts"));
        }
        let (Some(user), Some(role), Some(starts), Some(ends)) = (user, role, starts, ends) else {
            return Err(Error::InvalidFields { errors });
        };
        if !errors.is_empty() {
            return Err(Error::InvalidFields { errors });
        }
        let note = input.note.trim();
        self.store.insert_override(rota.id, user, role.as_str(), starts, ends, note).await?;
        let view = self.view(input.study_id).await?;
        let detail = format!("{} as {role} from {starts} to {ends}", input.username.trim());
        self.audit.record(actor, "rota.override_added", &format!("rota of {}", view.scope_name), &detail).await;
        Ok(view)
    }

    pub async fn delete_override(&self, actor: &Actor, study_id: Option<i64>, id: i64) -> Result<RotaView, Error> {
        let rota = self.rota_of(study_id).await?;
        if !self.store.delete_override(rota.id, id).await? {
            return Err(Error::not_found("The override"));
        }
        let view = self.view(study_id).await?;
        self.audit.record(actor, "rota.override_deleted", &format!("rota of {}", view.scope_name), "").await;
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: i64, name: &str) -> RotaPerson {
        RotaPerson { user_id: id, username: name.into(), display_name: name.into(), email: None }
    }

    fn rota() -> RotaRow {
        RotaRow {
            id: 1,
            study_id: None,
            timezone: "Europe/Zurich".into(),
            starts_on: "2026-11-02".into(),
            handoff_hour: 9,
            escalate_after_minutes: 30,
            renotify_minutes: 60,
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn members_take_weekly_turns_at_the_local_handoff_hour() {
        let members = [person(1, "alice"), person(2, "bob"), person(3, "carol")];
        let names = |shift: Shift| (shift.primary.map(|p| p.username), shift.secondary.map(|p| p.username));
        // 09:00 in Zurich is 08:00 UTC in November.
        let first = on_call(&rota(), &members, &[], at("2026-11-02T08:00:00Z"));
        assert_eq!(names(first), (Some("alice".into()), Some("bob".into())));
        let before = on_call(&rota(), &members, &[], at("2026-11-09T07:59:00Z"));
        assert_eq!(names(before).0.as_deref(), Some("alice"));
        let second = on_call(&rota(), &members, &[], at("2026-11-09T08:00:00Z"));
        assert_eq!(names(second), (Some("bob".into()), Some("carol".into())));
        let fourth = on_call(&rota(), &members, &[], at("2026-11-23T08:00:00Z"));
        assert_eq!(names(fourth), (Some("alice".into()), Some("bob".into())), "the turn comes round again");
        let earlier = on_call(&rota(), &members, &[], at("2026-10-27T08:00:00Z"));
        assert_eq!(names(earlier).0.as_deref(), Some("carol"), "weeks before the start count backwards");
    }

    #[test]
    fn an_override_replaces_its_role_while_it_lasts() {
        let members = [person(1, "alice"), person(2, "bob")];
        let holiday = OverrideRow {
            id: 1,
            user_id: 3,
            username: "dave".into(),
            display_name: "Dave".into(),
            email: None,
            role: "primary".into(),
            starts_at: at("2026-11-03T00:00:00Z"),
            ends_at: at("2026-11-05T00:00:00Z"),
            note: "Alice away".into(),
        };
        let during = on_call(&rota(), &members, std::slice::from_ref(&holiday), at("2026-11-04T12:00:00Z"));
        assert_eq!(during.primary.unwrap().username, "dave");
        assert_eq!(during.secondary.unwrap().username, "bob");
        let after = on_call(&rota(), &members, &[holiday], at("2026-11-05T00:00:00Z"));
        assert_eq!(after.primary.unwrap().username, "alice");
    }
}
