//! The [`Backend`] of every server guard, written once: a fatal guard ends
//! every input in its error, a signal stops the next one from beginning,
//! the verdict, policy and templates live in the guard's [`Judging`], and
//! the text of a shape or of an unchecked query is the server's own
//! ([`ServerCall::server_text`]). What an input is on the server (how it
//! begins, how it is undone) and how an unchecked query runs is each
//! backend's own ([`ServerInput`]).
//!
//! [`Judging`]: super::judging::Judging

use super::call::{fatal_error, may_begin, refused, ServerCall};
use crate::backend::{Backend, BackendKind};
use crate::static_check::compiled_text;
use crate::{Db, DbError, Policy, Value, Verdict};

/// What an input is on one server, and its unchecked queries.
pub(crate) trait ServerInput {
    /// Which backend this is.
    const KIND: BackendKind;

    /// Begins an input on the server (the guard is neither fatal nor
    /// stopped by a signal).
    fn begin(&mut self) -> crate::Result<()>;

    /// Undoes what the input did on the server (the guard is not fatal;
    /// its verdict is taken).
    fn end(&mut self) -> crate::Result<()>;

    /// Runs a query of the caller's own, unchecked: `text` as the server
    /// takes it, its values in order (the guard is not fatal).
    fn query(&mut self, text: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError>;
}

impl<T: ServerCall + ServerInput + Db> Backend for T {
    fn kind(&self) -> BackendKind {
        T::KIND
    }

    fn begin_input(&mut self) -> crate::Result<()> {
        may_begin(self.fatal(), T::ERROR)?;
        self.begin()
    }

    fn end_input(&mut self) -> crate::Result<Verdict> {
        let verdict = self.take_verdict();
        fatal_error(self.fatal(), T::ERROR)?;
        self.end()?;
        Ok(verdict)
    }

    fn set_policy(&mut self, policy: Policy) {
        self.judging().set_policy(policy);
    }

    fn set_templates(&mut self, shapes: Option<Vec<String>>) {
        self.judging().set_templates(shapes);
    }

    fn shape_of(&self, sql: &str) -> String {
        let (text, _) = T::server_text(compiled_text(sql).0, &[]);
        self.judged().shape(&text, T::DIALECT)
    }

    fn query_unchecked(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, DbError> {
        refused(self.fatal())?;
        let (text, ordered) = T::server_text(sql, params);
        self.query(&text, &ordered)
    }

    fn take_verdict(&mut self) -> Verdict {
        self.judging().take_verdict()
    }

    fn as_db(&mut self) -> &mut dyn Db {
        self
    }
}
