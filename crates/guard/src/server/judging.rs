//! What a server guard judges with, the same on every server: the policy
//! and the memo of static views under it, the statement shapes a replay
//! expects ([`crate::Backend::set_templates`]), the current input's verdict
//! and the last call's static view.

use std::collections::VecDeque;
use std::sync::Arc;

use super::judge::{judge, LogRow};
use crate::memo::Memo;
use crate::policy::{Cell, TableInfo};
use crate::static_check::{Dialect, StaticView};
use crate::{Policy, StatementCheck, Verdict};

/// The judging state of one server guard.
pub(crate) struct Judging {
    pub(crate) policy: Policy,
    templates: Option<VecDeque<String>>,
    pub(crate) verdict: Verdict,
    memo: Memo,
    last_view: Arc<StaticView>,
}

impl Judging {
    /// Judging under `policy`, no templates, an empty verdict.
    pub(crate) fn new(policy: Policy) -> Judging {
        let mut memo = Memo::default();
        memo.set_policy(&policy);
        Judging {
            policy,
            templates: None,
            verdict: Verdict::default(),
            memo,
            last_view: Arc::default(),
        }
    }

    pub(crate) fn set_policy(&mut self, policy: Policy) {
        self.memo.set_policy(&policy);
        self.policy = policy;
    }

    pub(crate) fn set_templates(&mut self, shapes: Option<Vec<String>>) {
        self.templates = shapes.map(VecDeque::from);
    }

    pub(crate) fn take_verdict(&mut self) -> Verdict {
        std::mem::take(&mut self.verdict)
    }

    /// The shape of `text` (the call as the server gets it).
    pub(crate) fn shape(&self, text: &str, dialect: Dialect) -> String {
        self.memo.shape(text, dialect)
    }

    /// The static layer's view of `text` (the call as the server gets it),
    /// against the next template when a replay set them, added to `check`.
    pub(crate) fn view(
        &mut self,
        dialect: Dialect,
        text: &str,
        tail: Option<&str>,
        check: &mut StatementCheck,
    ) {
        let template = self.templates.as_mut().map(|t| t.pop_front());
        let view = self.memo.view(
            text,
            dialect,
            &self.policy,
            template.as_ref().and_then(|t| t.as_deref()),
        );
        check.add_static(&view, &template, tail, "sent to the server");
        self.last_view = view;
    }

    /// Compares logged row changes with the policy ([`judge`]).
    pub(crate) fn judge(
        &self,
        check: &mut StatementCheck,
        tables: &[TableInfo],
        rows: Vec<LogRow>,
        cells: impl Fn(Option<&str>, &TableInfo) -> Option<Vec<Cell>>,
        prelude: impl Fn(&[String]) -> Option<String>,
    ) {
        judge(check, &self.policy, tables, rows, cells, prelude);
    }
}
