//! Triggers and Better Auth's `databaseHooks` on `user`, `session` and `account`, as Rust callbacks the app
//! registers ([`Triggers`], handed to [`crate::AuthService::with_triggers`]).
//!
//! * **before** hooks (`databaseHooks.<model>.<create|update>.before`) see the data about to be written (stored
//!   field names) and may change it or reject the write;
//! * **triggers** (`onCreate`/`onUpdate`/`onDelete`, and `databaseHooks` `after`) see the row as written (and as it
//!   was) and may read and write any table, the app's own included.
//!
//! Both run in the auth operation's transaction, on every attempt of it: their writes commit with the auth write
//! or not at all, and a rejection or failure aborts the whole operation (no user, session, account or app row).
//! A rejection answers 422 `REJECTED_BY_HOOK` with the hook's message; any other failure is a logged 500.
//!
//! The adapter finds the triggers of the running auth operation through a task-local set by `transact!`, so the
//! endpoints and the adapter's callers stay unaware of them; writes outside an auth operation (the housekeeping
//! sweep of expired rows) run none.

use crate::schema::Model;
use database::Transaction;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use value::Object;

/// The write a hook is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Create,
    Update,
    Delete,
}

/// Why a hook stopped the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookError {
    /// Refused (Better Auth's hook returning `false` or throwing an `APIError`): 422 with this message.
    Reject(String),
    /// Failed (a bug, a storage error): a logged 500.
    Fail(String),
}

/// One row change, as triggers see it (documents with `_id`).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub model: Model,
    pub op: Op,
    /// The row before (update, delete).
    pub old: Option<Object>,
    /// The row after (create, update).
    pub new: Option<Object>,
}

pub type HookFuture<'a> = Pin<Box<dyn Future<Output = Result<(), HookError>> + Send + 'a>>;

/// A trigger: runs after the write, in its transaction.
pub type Trigger = Arc<dyn for<'a> Fn(&'a mut Transaction, &'a Change) -> HookFuture<'a> + Send + Sync>;

/// A before hook: may edit the data to write (create: the new row's fields; update: the fields to set, `null`
/// unsets) or reject.
pub type BeforeHook = Arc<dyn for<'a> Fn(&'a mut Transaction, &'a mut Object) -> HookFuture<'a> + Send + Sync>;

/// The app's hooks. Cheap to clone.
#[derive(Clone, Default)]
pub struct Triggers {
    before: Vec<(Model, Op, BeforeHook)>,
    after: Vec<(Model, Op, Trigger)>,
}

impl std::fmt::Debug for Triggers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Triggers({} before, {} after)", self.before.len(), self.after.len())
    }
}

fn hooked(model: Model) -> bool {
    matches!(model, Model::User | Model::Session | Model::Account)
}

impl Triggers {
    pub fn new() -> Self {
        Triggers::default()
    }

    /// `databaseHooks.<model>.<create|update>.before` (only `user`, `session`, `account`; `Delete` has none in
    /// Better Auth but is accepted: it sees an empty object and may reject).
    pub fn before(mut self, model: Model, op: Op, hook: BeforeHook) -> Self {
        if hooked(model) {
            self.before.push((model, op, hook));
        }
        self
    }

    /// A trigger (`onCreate`/`onUpdate`/`onDelete`, `databaseHooks` `after`) on `user`, `session` or `account`.
    pub fn after(mut self, model: Model, op: Op, trigger: Trigger) -> Self {
        if hooked(model) {
            self.after.push((model, op, trigger));
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.before.is_empty() && self.after.is_empty()
    }

    pub(crate) async fn run_before(
        &self,
        txn: &mut Transaction,
        model: Model,
        op: Op,
        data: &mut Object,
    ) -> Result<(), HookError> {
        for (m, o, hook) in &self.before {
            if *m == model && *o == op {
                hook(txn, data).await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn run_after(&self, txn: &mut Transaction, change: &Change) -> Result<(), HookError> {
        for (m, o, trigger) in &self.after {
            if *m == change.model && *o == change.op {
                trigger(txn, change).await?;
            }
        }
        Ok(())
    }
}

tokio::task_local! {
    /// The triggers of the auth operation running on this task (set by `transact!`).
    pub(crate) static ACTIVE: Triggers;
}

/// The running auth operation's triggers (empty outside one).
pub(crate) fn active() -> Triggers {
    ACTIVE.try_with(Triggers::clone).unwrap_or_default()
}
