//! Cron jobs (`crons.ts`): named, periodic runs of a mutation or action.
//!
//! The app registers them with [`App::crons`](crate::App::crons); the executor keeps one private document per cron
//! in `_system/cron_jobs` (`name`, `spec` — the registration as JSON, so a changed registration is noticed —,
//! `nextRun`, `lastRun?`, and while an action run is in progress `runningUntil`/`runningNode`, a lease), and the last
//! [`RUNS_KEPT`] runs of each in `_system/cron_runs`. A run is claimed by advancing `nextRun` in a transaction, so
//! every run executes once across nodes, and the next run time survives restarts. All times are UTC.

use database::{Schema, TableDefinition};
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::str::FromStr;
use value::{Object, Value};

pub(crate) const CRON_JOBS: &str = "_system/cron_jobs";
pub(crate) const CRON_RUNS: &str = "_system/cron_runs";
pub(crate) const BY_NAME: &str = "by_name";
pub(crate) const BY_NEXT_RUN: &str = "by_next_run";
pub(crate) const BY_CRON_AND_TS: &str = "by_cron_and_ts";
/// Runs kept per cron job.
pub const RUNS_KEPT: usize = 10;

pub(crate) fn system_schema() -> Schema {
    Schema::new()
        .system_table(CRON_JOBS, TableDefinition::new().index(BY_NAME, &["name"]).index(BY_NEXT_RUN, &["nextRun"]))
        .system_table(CRON_RUNS, TableDefinition::new().index(BY_CRON_AND_TS, &["cron", "ts"]))
}

/// Day of the week for [`Crons::weekly`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weekday {
    Sunday,
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
}

impl Weekday {
    fn number(self) -> u8 {
        self as u8
    }

    fn name(self) -> &'static str {
        match self {
            Weekday::Sunday => "sunday",
            Weekday::Monday => "monday",
            Weekday::Tuesday => "tuesday",
            Weekday::Wednesday => "wednesday",
            Weekday::Thursday => "thursday",
            Weekday::Friday => "friday",
            Weekday::Saturday => "saturday",
        }
    }
}

/// When a cron job runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// Every `seconds` seconds; the first run is when the cron is first deployed.
    Interval {
        seconds: u64,
    },
    /// Every hour at `minute` (UTC).
    Hourly {
        minute: u8,
    },
    Daily {
        hour: u8,
        minute: u8,
    },
    Weekly {
        day: Weekday,
        hour: u8,
        minute: u8,
    },
    /// On day `day` (1-31) of every month that has it.
    Monthly {
        day: u8,
        hour: u8,
        minute: u8,
    },
    /// A standard five-field cron expression (minute hour day-of-month month day-of-week), UTC.
    Cron(String),
}

impl Schedule {
    pub fn seconds(n: u64) -> Self {
        Schedule::Interval { seconds: n }
    }

    pub fn minutes(n: u64) -> Self {
        Schedule::Interval { seconds: n.saturating_mul(60) }
    }

    pub fn hours(n: u64) -> Self {
        Schedule::Interval { seconds: n.saturating_mul(3600) }
    }

    /// The schedule in the JSON shape `crons.ts` exports (`{"minutes":1,"type":"interval"}` …).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Schedule::Interval { seconds } if seconds % 3600 == 0 => {
                json!({"hours": seconds / 3600, "type": "interval"})
            }
            Schedule::Interval { seconds } if seconds % 60 == 0 => json!({"minutes": seconds / 60, "type": "interval"}),
            Schedule::Interval { seconds } => json!({"seconds": seconds, "type": "interval"}),
            Schedule::Hourly { minute } => json!({"minuteUTC": minute, "type": "hourly"}),
            Schedule::Daily { hour, minute } => json!({"hourUTC": hour, "minuteUTC": minute, "type": "daily"}),
            Schedule::Weekly { day, hour, minute } => {
                json!({"dayOfWeek": day.name(), "hourUTC": hour, "minuteUTC": minute, "type": "weekly"})
            }
            Schedule::Monthly { day, hour, minute } => {
                json!({"day": day, "hourUTC": hour, "minuteUTC": minute, "type": "monthly"})
            }
            Schedule::Cron(expression) => json!({"cron": expression, "type": "cron"}),
        }
    }

    /// The equivalent five-field expression of a calendar schedule (`None` for intervals).
    fn expression(&self) -> Option<String> {
        match self {
            Schedule::Interval { .. } => None,
            Schedule::Hourly { minute } => Some(format!("{minute} * * * *")),
            Schedule::Daily { hour, minute } => Some(format!("{minute} {hour} * * *")),
            Schedule::Weekly { day, hour, minute } => Some(format!("{minute} {hour} * * {}", day.number())),
            Schedule::Monthly { day, hour, minute } => Some(format!("{minute} {hour} {day} * *")),
            Schedule::Cron(expression) => Some(expression.clone()),
        }
    }

    /// Checks the schedule; the error says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Schedule::Interval { seconds: 0 } => Err("an interval must be at least one second".into()),
            Schedule::Interval { .. } => Ok(()),
            Schedule::Hourly { minute } if *minute > 59 => Err(format!("minuteUTC must be 0-59, got {minute}")),
            Schedule::Daily { hour, minute } | Schedule::Weekly { hour, minute, .. } if *hour > 23 || *minute > 59 => {
                Err(format!("hourUTC must be 0-23 and minuteUTC 0-59, got {hour}:{minute}"))
            }
            Schedule::Monthly { day, hour, minute } if !(1..=31).contains(day) || *hour > 23 || *minute > 59 => {
                Err(format!("day must be 1-31, hourUTC 0-23 and minuteUTC 0-59, got day {day} {hour}:{minute}"))
            }
            _ => parse_expression(&self.expression().unwrap_or_default()).map(|_| ()),
        }
    }

    /// The first run after `now_ms` for a cron deployed (or changed) at `now_ms`: intervals run at once, calendar
    /// schedules at their next occurrence.
    pub fn first_run(&self, now_ms: f64) -> Result<f64, String> {
        match self {
            Schedule::Interval { .. } => Ok(now_ms),
            _ => self.next_after(now_ms, now_ms),
        }
    }

    /// The next run after a run due at `due_ms`, never at or before `now_ms` (runs missed while the deployment was
    /// down, or while a previous run was still executing, are skipped rather than piled up).
    pub fn next_after(&self, due_ms: f64, now_ms: f64) -> Result<f64, String> {
        match self {
            Schedule::Interval { seconds } => {
                let step = *seconds as f64 * 1000.0;
                let next = due_ms + step;
                if next > now_ms {
                    Ok(next)
                } else {
                    // Stay on the interval's grid: the first slot after now.
                    let behind = ((now_ms - due_ms) / step).floor() + 1.0;
                    Ok(due_ms + behind * step)
                }
            }
            _ => {
                let cron = parse_expression(&self.expression().unwrap_or_default())?;
                let after = due_ms.max(now_ms);
                let start = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(after.floor() as i64)
                    .ok_or_else(|| format!("time {after} is out of range"))?;
                let next = cron
                    .find_next_occurrence(&start, false)
                    .map_err(|e| format!("cron schedule {:?} has no next run: {e}", self.expression()))?;
                Ok(next.timestamp_millis() as f64)
            }
        }
    }
}

fn parse_expression(expression: &str) -> Result<croner::Cron, String> {
    let fields = expression.split_whitespace().count();
    if fields != 5 {
        return Err(format!(
            "cron expression {expression:?} must have five fields (minute hour day-of-month month day-of-week), it has {fields}"
        ));
    }
    croner::Cron::from_str(expression).map_err(|e| format!("invalid cron expression {expression:?}: {e}"))
}

/// Platform work run on a schedule like a cron (auth housekeeping): given the database and the time, it does its
/// own bounded transactions and returns a summary for the run record. At most one run at a time across the
/// cluster, claimed like a cron run.
pub type SystemTask = std::sync::Arc<
    dyn Fn(database::Database, database::UnixTime) -> BoxFuture<'static, Result<String, String>> + Send + Sync,
>;

/// One registered cron job.
#[derive(Clone)]
pub struct CronJob {
    pub name: String,
    /// The function path (a mutation or an action); `_system/<name>` for a system task.
    pub path: String,
    pub args: Value,
    pub schedule: Schedule,
    /// Set for the platform's own periodic work, which runs in place of a function.
    pub system: Option<SystemTask>,
}

impl std::fmt::Debug for CronJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CronJob")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("args", &self.args)
            .field("schedule", &self.schedule)
            .field("system", &self.system.is_some())
            .finish()
    }
}

impl CronJob {
    /// The registration as `crons.ts` exports it: `{"name","args":[args],"schedule"}` (the stored `spec`).
    pub fn spec(&self) -> String {
        serde_json::json!({
            "name": self.path,
            "args": [value::json::to_json(&self.args)],
            "schedule": self.schedule.to_json(),
        })
        .to_string()
    }
}

/// The cron jobs of an app (`cronJobs()`), by unique name.
#[derive(Debug, Clone, Default)]
pub struct Crons {
    pub(crate) jobs: BTreeMap<String, CronJob>,
    pub(crate) errors: Vec<String>,
}

impl Crons {
    /// `crons.interval(name, {seconds|minutes|hours}, fn, args)`: e.g. `Schedule::minutes(1)`.
    pub fn interval(&mut self, name: &str, every: Schedule, path: &str, args: Value) -> &mut Self {
        match every {
            Schedule::Interval { .. } => self.add(name, every, path, args),
            other => {
                self.errors.push(format!("cron {name:?}: interval() takes an interval schedule, got {other:?}"));
                self
            }
        }
    }

    /// `crons.hourly(name, {minuteUTC}, fn, args)`.
    pub fn hourly(&mut self, name: &str, minute_utc: u8, path: &str, args: Value) -> &mut Self {
        self.add(name, Schedule::Hourly { minute: minute_utc }, path, args)
    }

    /// `crons.daily(name, {hourUTC, minuteUTC}, fn, args)`.
    pub fn daily(&mut self, name: &str, hour_utc: u8, minute_utc: u8, path: &str, args: Value) -> &mut Self {
        self.add(name, Schedule::Daily { hour: hour_utc, minute: minute_utc }, path, args)
    }

    /// `crons.weekly(name, {dayOfWeek, hourUTC, minuteUTC}, fn, args)`.
    pub fn weekly(
        &mut self,
        name: &str,
        day: Weekday,
        hour_utc: u8,
        minute_utc: u8,
        path: &str,
        args: Value,
    ) -> &mut Self {
        self.add(name, Schedule::Weekly { day, hour: hour_utc, minute: minute_utc }, path, args)
    }

    /// `crons.monthly(name, {day, hourUTC, minuteUTC}, fn, args)`.
    pub fn monthly(&mut self, name: &str, day: u8, hour_utc: u8, minute_utc: u8, path: &str, args: Value) -> &mut Self {
        self.add(name, Schedule::Monthly { day, hour: hour_utc, minute: minute_utc }, path, args)
    }

    /// `crons.cron(name, "*/5 * * * *", fn, args)`: standard five-field syntax, UTC.
    pub fn cron(&mut self, name: &str, expression: &str, path: &str, args: Value) -> &mut Self {
        self.add(name, Schedule::Cron(expression.to_string()), path, args)
    }

    /// Registers a cron job with any schedule.
    pub fn add(&mut self, name: &str, schedule: Schedule, path: &str, args: Value) -> &mut Self {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
            self.errors.push(format!("Cron identifier {name:?} must be non-empty printable ASCII"));
            return self;
        }
        if self.jobs.contains_key(name) {
            self.errors.push(format!("Cron identifier registered twice: {name}"));
            return self;
        }
        if let Err(e) = schedule.validate() {
            self.errors.push(format!("cron {name:?}: {e}"));
            return self;
        }
        if !matches!(args, Value::Object(_)) {
            self.errors.push(format!("cron {name:?}: arguments must be an object"));
            return self;
        }
        self.jobs
            .insert(name.to_string(), CronJob { name: name.into(), path: path.into(), args, schedule, system: None });
        self
    }

    /// Registers platform work (not an app function) to run on `schedule`, e.g. the auth service's sweep of expired
    /// rows. Its runs are recorded like a cron's.
    pub fn system(&mut self, name: &str, schedule: Schedule, task: SystemTask) -> &mut Self {
        if let Err(e) = schedule.validate() {
            self.errors.push(format!("system task {name:?}: {e}"));
            return self;
        }
        let job = CronJob {
            name: name.into(),
            path: format!("_system/{name}"),
            args: Value::Object(Object::new()),
            schedule,
            system: Some(task),
        };
        if self.jobs.insert(name.to_string(), job).is_some() {
            self.errors.push(format!("Cron identifier registered twice: {name}"));
        }
        self
    }

    pub fn jobs(&self) -> impl Iterator<Item = &CronJob> {
        self.jobs.values()
    }

    pub(crate) fn merge(&mut self, other: Crons) {
        for (name, job) in other.jobs {
            if self.jobs.contains_key(&name) {
                self.errors.push(format!("Cron identifier registered twice: {name}"));
            }
            self.jobs.insert(name, job);
        }
        self.errors.extend(other.errors);
    }
}

/// A stable minute for `hourly` crons that do not name one (Convex picks one per cron): from the name's hash.
pub fn stable_minute(name: &str) -> u8 {
    let hash = name.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    (hash % 60) as u8
}

/// A run of a cron job as recorded in `_system/cron_runs`.
#[derive(Debug, Clone, PartialEq)]
pub struct CronRun {
    pub cron: String,
    /// When the run started (ms since the epoch).
    pub ts: f64,
    /// `success`, `failed` or `skipped` (the previous run was still executing).
    pub status: String,
    pub error: Option<String>,
}

impl CronRun {
    pub(crate) fn to_object(&self) -> Object {
        let mut doc = Object::new();
        doc.insert("cron".into(), Value::String(self.cron.clone()));
        doc.insert("ts".into(), Value::Float64(self.ts));
        doc.insert("status".into(), Value::String(self.status.clone()));
        if let Some(error) = &self.error {
            doc.insert("error".into(), Value::String(error.clone()));
        }
        doc
    }

    pub(crate) fn from_object(doc: &Object) -> Option<CronRun> {
        Some(CronRun {
            cron: doc.get("cron")?.as_str()?.to_string(),
            ts: doc.get("ts")?.as_f64()?,
            status: doc.get("status")?.as_str()?.to_string(),
            error: doc.get("error").and_then(Value::as_str).map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: f64 = 60_000.0;
    // 2026-01-05T10:07:30Z, a Monday.
    const T: f64 = 1_767_607_650_000.0;

    #[test]
    fn intervals_run_at_deploy_then_every_step_skipping_missed_slots() {
        let s = Schedule::minutes(1);
        assert_eq!(s.first_run(T), Ok(T));
        assert_eq!(s.next_after(T, T + 1.0), Ok(T + MINUTE));
        // Down for 10.5 minutes: the next run is the first slot of the grid after now, not ten catch-up runs.
        assert_eq!(s.next_after(T, T + 10.5 * MINUTE), Ok(T + 11.0 * MINUTE));
        assert_eq!(s.to_json(), serde_json::json!({"minutes": 1, "type": "interval"}));
        assert_eq!(Schedule::seconds(90).to_json(), serde_json::json!({"seconds": 90, "type": "interval"}));
    }

    #[test]
    fn calendar_schedules_compute_the_next_utc_occurrence() {
        let at = |s: &Schedule| s.next_after(T, T).map(|ms| ms as i64);
        // 10:07:30 → hourly at :05 is 11:05.
        assert_eq!(at(&Schedule::Hourly { minute: 5 }), Ok(1_767_611_100_000));
        // Daily 03:00 → tomorrow 03:00.
        assert_eq!(at(&Schedule::Daily { hour: 3, minute: 0 }), Ok(1_767_668_400_000));
        // Weekly Monday 10:07 has passed today → next Monday.
        assert_eq!(at(&Schedule::Weekly { day: Weekday::Monday, hour: 10, minute: 7 }), Ok(1_768_212_420_000));
        // Monthly day 1 at 00:00 → 2026-02-01.
        assert_eq!(at(&Schedule::Monthly { day: 1, hour: 0, minute: 0 }), Ok(1_769_904_000_000));
        // Every 5 minutes → 10:10; weekdays 09:00 → Tuesday 09:00 (day-of-week 1-5 is Monday-Friday).
        assert_eq!(at(&Schedule::Cron("*/5 * * * *".into())), Ok(1_767_607_800_000));
        assert_eq!(at(&Schedule::Cron("0 9 * * 1-5".into())), Ok(1_767_690_000_000));
        // Sunday is 0 and 7.
        assert_eq!(at(&Schedule::Cron("0 0 * * 0".into())), at(&Schedule::Cron("0 0 * * 7".into())));
        // Runs missed while down are skipped: the next occurrence after now.
        assert_eq!(
            Schedule::Hourly { minute: 5 }.next_after(T, T + 5.0 * 60.0 * MINUTE).map(|ms| ms as i64),
            Ok(1_767_629_100_000)
        );
    }

    #[test]
    fn bad_registrations_are_reported() {
        let mut crons = Crons::default();
        crons.cron("a", "* * * *", "m:f", Value::Object(Object::new()));
        crons.cron("b", "61 * * * *", "m:f", Value::Object(Object::new()));
        crons.interval("c", Schedule::seconds(0), "m:f", Value::Object(Object::new()));
        crons.hourly("d", 60, "m:f", Value::Object(Object::new()));
        crons.interval("e", Schedule::minutes(1), "m:f", Value::Object(Object::new()));
        crons.interval("e", Schedule::minutes(2), "m:f", Value::Object(Object::new()));
        crons.interval("", Schedule::minutes(2), "m:f", Value::Object(Object::new()));
        assert_eq!(crons.errors.len(), 6, "{:?}", crons.errors);
        assert!(crons.errors.iter().any(|e| e.contains("five fields")));
        assert!(crons.errors.iter().any(|e| e == "Cron identifier registered twice: e"));
        assert_eq!(crons.jobs.len(), 1);
    }
}
