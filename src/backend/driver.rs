//! The backend driver: the protocol every target follows, written once.
//!
//! For each spec, `rules_of` lists its rules (a detection on one source, with the backend's
//! table for it). For each rule the driver
//! 1. drops the matches the table cannot express, under the spec's gap policy, from the
//!    detection and from each exclusion (`RuleCtx::expressible`);
//! 2. renders the detection and each exclusion that applies with one tree walk (`walk`),
//!    calling the backend's hooks: `leaf` for a match (after the column-fidelity warning,
//!    written here once), `join` for `all` / `any`, `not`;
//! 3. checks the columns the backend's query reads (`Backend::needs`): a missing one is an
//!    error, or, for a group-by field under a declared gap where the backend can group without
//!    it, left out with a warning;
//! 4. hands the rendered parts (`Rule`) to the backend's `finish`, which writes the query and
//!    its wrapper (the description's shared paragraphs come from `Description`).
//!
//! Every part is checked before a rule is given up, so one run reports every problem. The
//! diagnostics carry typed causes (`diag::Cause`): importers read those, never the text.
//!
//! Stays whole (over 600 lines): it is the one protocol every backend follows, from tables to the
//! rule's description; splitting it would scatter the order of its steps.

use super::common::{effect, fidelity_word, widen, Rendering, Widened};
use super::{Compiled, RuleId, Target};
use crate::diag::{Cause, Diag, DiagKind, Fidelity, Gap, Loss, Note, Role, Unbuildable, Whole};
use crate::ir::{Expr, IrDetection, IrExclusion, IrSpec, Match};
use crate::mapping::{Column, TableMap};
use crate::spec::{BackendName, Field, Source};

/// How a backend names its things in messages.
pub struct Words {
    /// The backend: `KQL`, `Sigma`, `Splunk`, `Elastic`.
    pub title: &'static str,
    /// What it calls a table: `table`, `log source`, `data source`.
    pub table: &'static str,
    /// What precedes a table's name: `KQL table` (`KQL table DeviceNetworkEvents`).
    pub target: &'static str,
    /// What a table lacks when a field is missing: `column`, `field`, `ECS field`.
    pub missing: &'static str,
    /// `Some` when a declared gap lets the backend leave a group-by field out (its results are
    /// then grouped without it): how the warning says so.
    pub grouped: Option<Grouped>,
}

/// The warning for group-by fields left out under a declared gap.
pub struct Grouped {
    /// The subject names the source too: `x/netconn (endpoint): …`.
    pub with_source: bool,
    /// What happens: `the Splunk search groups results without it`.
    pub consequence: &'static str,
}

/// A column the backend's query reads, and what for (`summarize`, `the time filter`).
pub struct Need {
    pub field: Field,
    pub what: &'static str,
    /// A group-by field: a declared gap may leave it out (see `Words::grouped`).
    pub group_by: bool,
    /// An output column (not read by the predicate): a declared gap may leave it out of the
    /// results, as a group-by field.
    pub column: bool,
}

impl Need {
    pub fn new(field: Field, what: &'static str) -> Need {
        Need {
            field,
            what,
            group_by: false,
            column: false,
        }
    }
    pub fn column(field: Field, what: &'static str) -> Need {
        Need {
            column: true,
            ..Need::new(field, what)
        }
    }
    pub fn group_by(field: Field, what: &'static str) -> Need {
        Need {
            group_by: true,
            ..Need::new(field, what)
        }
    }
}

/// `all` or `any`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chain {
    All,
    Any,
}

/// A target language: its data and a few hooks; the driver does the rest. `Node` is a rendered
/// (sub)expression; `Local` is state one rule's hooks fill (KQL's hoisted value lists).
pub trait Backend: Default {
    /// The key of this backend in a detection's `gaps:` and `unsupported:`.
    const NAME: BackendName;
    const WORDS: Words;
    /// What `rmmc build --target` names the artifacts this backend writes.
    const TARGETS: &'static [Target];
    /// The wrapper templates it renders (name under `templates/`, source).
    const TEMPLATES: &'static [(&'static str, &'static str)] = &[];
    type Node: Clone;
    type Local: Default;

    /// Its tables: the mapping chosen for the run (`crate::mappings`), else its shipped default.
    fn tables() -> &'static [TableMap] {
        crate::mappings::chosen_or_default(Self::NAME)
    }
    /// What this backend needs of a table beyond its columns (its `meta` keys, the spelling of
    /// its field names): checked when a mapping is loaded.
    fn check_table(table: &TableMap) -> Result<(), String> {
        let _ = table;
        Ok(())
    }
    /// A match the table can express, on its column.
    fn leaf(&self, cx: &mut RuleCtx<'_, Self::Local>, m: &Match, col: &Column) -> Self::Node;
    /// `all` / `any` of rendered parts; `top` for the detection's outermost chain.
    fn join(
        &self,
        cx: &RuleCtx<'_, Self::Local>,
        chain: Chain,
        parts: Vec<Self::Node>,
        top: bool,
    ) -> Self::Node;
    fn not(&self, cx: &RuleCtx<'_, Self::Local>, inner: Self::Node) -> Self::Node;
    /// The columns its query reads for this rule, in the order it reads them.
    fn needs(&self, det: &IrDetection, source: Source) -> Vec<Need> {
        let _ = (det, source);
        Vec::new()
    }
    /// Write the artifacts of one rule (query and wrapper) into `files`, or report why not.
    fn finish(
        &mut self,
        cx: &mut RuleCtx<'_, Self::Local>,
        rule: Rule<'_, Self::Node>,
        files: &mut Vec<(String, String)>,
    );
    /// Files made of every rule (one `savedsearches.conf`), after the last rule.
    fn files(self, files: &mut Vec<(String, String)>) {
        let _ = files;
    }
}

/// What a build asks of a backend.
#[derive(Clone, Copy, Debug)]
pub struct Options<'o> {
    pub targets: &'o [Target],
    pub exclusions: bool,
}

/// Compile every spec with backend `B`: its files (path relative to the output folder,
/// content), diagnostics and renderings.
pub fn compile<B: Backend>(irs: &[IrSpec], opts: Options) -> Compiled<(String, String)> {
    let mut backend = B::default();
    let mut out = Compiled::default();
    for spec in irs {
        for (det, source, table) in rules_of::<B>(spec, &mut out.diags) {
            let mut cx = RuleCtx::new::<B>(spec, det, source, table, opts);
            if let Some(rule) = rule(&backend, &mut cx) {
                backend.finish(&mut cx, rule, &mut out.items);
            }
            out.diags.append(&mut cx.diags);
            out.renderings.append(&mut cx.renderings);
        }
    }
    backend.files(&mut out.items);
    out
}

/// One exclusion of a rule: the inside of its `not`, rendered, or `None` when the table has no
/// field for any of its matches (it is listed, not applied).
pub struct Excluded<'a, N> {
    pub x: &'a IrExclusion,
    pub inner: Option<N>,
}

/// A rule's parts, rendered and checked: what `finish` writes.
pub struct Rule<'a, N> {
    pub id: RuleId,
    /// The detection's predicate.
    pub condition: N,
    /// Its top-level `and` parts, each rendered (the condition itself when it is no `and`).
    pub conjuncts: Vec<N>,
    /// The exclusions of this source (none with `--no-exclusions`), in spec order.
    pub exclusions: Vec<Excluded<'a, N>>,
    /// The declared gap this rule relies on: a match was dropped, so it matches more.
    pub gap: Option<&'a str>,
    /// Group-by fields and output columns left out under the declared gap (see
    /// `Words::grouped`, `Need::column`).
    pub ungrouped: Vec<Field>,
}

/// Render a rule's parts; `None` (with the errors reported) when it cannot be built.
fn rule<'a, B: Backend>(b: &B, cx: &mut RuleCtx<'a, B::Local>) -> Option<Rule<'a, B::Node>> {
    let det = cx.det;
    let detection = cx.expressible(&det.expr, "detection");
    let exclusions = cx.exclusions();
    let mut buildable = detection.is_some();
    let condition = match detection {
        Some(Widened::Expr(e)) => {
            cx.part = "detection".into();
            Some(top(b, cx, &e))
        }
        Some(w) => {
            cx.nothing_expressible(&w);
            None
        }
        None => None,
    };
    let mut excluded = Vec::new();
    for (x, part, w) in exclusions {
        match w {
            Some(Widened::Expr(Expr::Not(inner))) => {
                cx.part = part;
                cx.negated = true;
                let n = walk(b, cx, &inner, false);
                cx.negated = false;
                excluded.push(Excluded { x, inner: Some(n) });
            }
            // `not(x)` widened to `true`: the table has no field of the exclusion
            Some(Widened::True) => excluded.push(Excluded { x, inner: None }),
            Some(_) => unreachable!("widening `not(x)` yields `not(..)` or `true`"),
            None => buildable = false,
        }
    }
    let ungrouped = cx.output(b.needs(det, cx.source));
    let ((condition, conjuncts), ungrouped) = (condition?, ungrouped?);
    if !buildable {
        return None;
    }
    let dropped = cx
        .renderings
        .iter()
        .any(|r| r.fidelity == Fidelity::Inexpressible);
    Some(Rule {
        id: RuleId::new(cx.spec, det, cx.source),
        condition,
        conjuncts,
        exclusions: excluded,
        gap: dropped
            .then(|| det.gaps.get(&B::NAME).map(String::as_str))
            .flatten(),
        ungrouped,
    })
}

/// The detection's predicate, and its top-level `and` parts.
fn top<B: Backend>(b: &B, cx: &mut RuleCtx<B::Local>, e: &Expr) -> (B::Node, Vec<B::Node>) {
    match e {
        Expr::All(v) => {
            let parts: Vec<B::Node> = v.iter().map(|x| walk(b, cx, x, false)).collect();
            (b.join(cx, Chain::All, parts.clone(), true), parts)
        }
        e => {
            let n = walk(b, cx, e, true);
            (n.clone(), vec![n])
        }
    }
}

/// The one tree walk: every backend renders through it.
pub fn walk<B: Backend>(b: &B, cx: &mut RuleCtx<B::Local>, e: &Expr, top: bool) -> B::Node {
    match e {
        Expr::All(v) | Expr::Any(v) => {
            let chain = if matches!(e, Expr::All(_)) {
                Chain::All
            } else {
                Chain::Any
            };
            let parts = v.iter().map(|x| walk(b, cx, x, false)).collect();
            b.join(cx, chain, parts, top)
        }
        Expr::Not(x) => {
            cx.negated = !cx.negated;
            let inner = walk(b, cx, x, false);
            cx.negated = !cx.negated;
            b.not(cx, inner)
        }
        Expr::Match(m) => {
            let col = cx.column(m);
            b.leaf(cx, m, &col)
        }
    }
}

/// What the walk knows about the rule it renders (one detection on one table), and what it
/// collects: diagnostics and, for `rmmc explain`, how each match was rendered.
pub struct RuleCtx<'a, L = ()> {
    pub backend: BackendName,
    pub words: &'static Words,
    pub spec: &'a IrSpec,
    pub det: &'a IrDetection,
    pub source: Source,
    pub table: &'static TableMap,
    /// The table in messages, e.g. `KQL table DeviceNetworkEvents`.
    pub target: String,
    /// The targets being built (a backend may write several, e.g. KQL and Sentinel).
    pub targets: &'a [Target],
    /// Exclusions are applied (not `--no-exclusions`).
    pub with_exclusions: bool,
    /// Which part of the rule is being rendered (`detection`, `exclusion <id>`).
    pub part: String,
    /// Under an odd number of `not`s (an exclusion is one): a wider match makes the rule
    /// narrower there, and the other way round.
    pub negated: bool,
    pub diags: Vec<Diag>,
    pub renderings: Vec<Rendering>,
    /// The backend's own state for this rule.
    pub local: L,
}

impl<'a, L: Default> RuleCtx<'a, L> {
    pub fn new<B: Backend>(
        spec: &'a IrSpec,
        det: &'a IrDetection,
        source: Source,
        table: &'static TableMap,
        opts: Options<'a>,
    ) -> Self {
        RuleCtx {
            backend: B::NAME,
            words: &B::WORDS,
            spec,
            det,
            source,
            table,
            target: format!("{} {}", B::WORDS.target, table.name),
            targets: opts.targets,
            with_exclusions: opts.exclusions,
            part: "detection".into(),
            negated: false,
            diags: Vec::new(),
            renderings: Vec::new(),
            local: L::default(),
        }
    }
}

impl<'a, L> RuleCtx<'a, L> {
    /// Is this target being built?
    pub fn wants(&self, t: Target) -> bool {
        self.targets.contains(&t)
    }

    /// The column a match is rendered on (callers drop matches on missing columns first),
    /// with a warning when matching on it is not exact.
    pub fn column(&mut self, m: &Match) -> Column<'static> {
        let table = self.table;
        let col = table
            .column(m.field)
            .expect("matches on missing columns are widened away before rendering");
        let (fidelity, note) = col.fidelity;
        if fidelity != Fidelity::Exact {
            let msg = format!(
                "{}: `{}` is matched on {} ({}: {})",
                table.name,
                m.field,
                col.match_on.join(" or "),
                fidelity_word(fidelity),
                note.unwrap_or_default()
            );
            let id = Note::Column {
                source: table.source,
                category: table.category,
                field: m.field,
            };
            self.warn(m, fidelity, (id, note.unwrap_or_default()), msg);
        }
        col
    }

    /// The column an output field is read from (`needs` checked that the table has it).
    pub fn project(&self, f: Field) -> &'static str {
        self.table
            .column(f)
            .map(|c| c.project)
            .expect("output columns are checked before `finish`")
    }

    /// Warn, once, about a match rendered `fidelity`, for the reason `note` (its stable id
    /// and its words, from the backend's data). The warning's kind is the effect on the rule
    /// (so `--deny narrower` catches a wider match inside an exclusion), and the message says
    /// so when the two differ; its cause keys grouping and acknowledgement.
    pub fn warn(&mut self, m: &Match, fidelity: Fidelity, note: (Note, &str), mut msg: String) {
        let rule = effect(fidelity, self.negated);
        if rule != fidelity {
            msg.push_str(&format!(
                "; it sits under `not` ({}), so the rule is {}",
                self.part,
                fidelity_word(rule)
            ));
        }
        let d = Diag::warning(DiagKind::Fidelity(rule), msg)
            .at(&self.spec.file, m.span)
            .cause(Cause::Loss(Loss {
                backend: self.backend,
                effect: rule,
                note: note.0,
                why: note.1.to_string(),
                negated: self.negated,
                spec: self.spec.id.clone(),
                detection: self.det.id.clone(),
            }));
        if !self.diags.contains(&d) {
            self.diags.push(d);
        }
    }

    /// Record how a match was rendered, for `rmmc explain`.
    pub fn record(
        &mut self,
        m: &Match,
        rendered: String,
        fidelity: Fidelity,
        note: Option<String>,
    ) {
        self.renderings.push(Rendering {
            spec: self.spec.id.clone(),
            detection: self.det.id.clone(),
            source: self.source,
            backend: self.backend,
            part: self.part.clone(),
            predicate: m.to_string(),
            rendered,
            fidelity,
            note,
        });
    }

    /// Drop the matches the table cannot express, under the spec's gap policy; each dropped
    /// match is recorded as inexpressible. `None` when the rule cannot be built.
    pub fn expressible(&mut self, e: &Expr, part: &str) -> Option<Widened> {
        let table = self.table;
        let mut missing: Vec<Match> = Vec::new();
        let widened = widen(e, &mut |m: &Match| {
            let ok = table.column(m.field).is_some();
            if !ok {
                missing.push(m.clone());
            }
            ok
        });
        self.part = part.to_string();
        let why = format!("{} has no {} for it", table.name, self.words.missing);
        for m in &missing {
            self.record(m, String::new(), Fidelity::Inexpressible, Some(why.clone()));
        }
        self.gap_policy(part, &missing, &why).then_some(widened)
    }

    /// Applies the spec's gap policy to the matches the backend could not express in one part
    /// (the detection predicate or one exclusion) of a rule: with a `gaps` entry for this
    /// backend the part is widened and a warning says so; without one it is an error. Returns
    /// whether the rule can still be built.
    fn gap_policy(&mut self, part: &str, missing: &[Match], why: &str) -> bool {
        let Some(first) = missing.first() else {
            return true;
        };
        let (spec, det, backend, source) = (self.spec, self.det, self.backend, self.source);
        let gap = |m: &Match| Gap {
            backend,
            field: m.field,
            table: self.table.name.clone(),
            role: Role::Match,
        };
        match det.gaps.get(&backend) {
            Some(reason) => {
                for m in missing {
                    let d = Diag::warning(
                        DiagKind::Fidelity(Fidelity::Wider),
                        format!(
                            "{}/{} on {}: {part} drops {m}, so the {backend} rule is wider (declared gap: {reason})",
                            spec.id, det.id, self.target
                        ),
                    )
                    .at(&spec.file, m.span)
                    .cause(Cause::Gaps(vec![gap(m)]))
                    .acknowledged(&spec.file, &reason.to_string());
                    if !self.diags.contains(&d) {
                        self.diags.push(d);
                    }
                }
                true
            }
            None => {
                let what: Vec<String> = missing.iter().map(|m| format!("`{m}` ({why})")).collect();
                let d = Diag::error(
                    DiagKind::Fidelity(Fidelity::Inexpressible),
                    format!(
                        "{}/{} ({source}): {backend} cannot express {} in the {part} on {}: {}",
                        spec.id,
                        det.id,
                        if missing.len() == 1 { "a match" } else { "matches" },
                        self.target,
                        what.join(", ")
                    ),
                )
                .at(&spec.file, first.span.or(det.span))
                .help(format!(
                    "accept a wider {backend} rule with `gaps: {{ {backend}: <reason> }}` on the detection, or drop source `{source}`"
                ))
                .cause(Cause::Gaps(missing.iter().map(gap).collect()));
                self.diags.push(d);
                false
            }
        }
    }

    /// The exclusions that apply to this source, each as `not(x)` widened under the gap
    /// policy (dropping matches from `not(x)` keeps the rule wider, never narrower), with the
    /// part name for messages. All are checked before any is used, so one run reports every
    /// problem.
    pub fn exclusions(&mut self) -> Vec<(&'a IrExclusion, String, Option<Widened>)> {
        let (det, source, on) = (self.det, self.source, self.with_exclusions);
        det.exclusions
            .iter()
            .filter(|x| on && x.sources.contains(&source))
            .map(|x| {
                let part = format!("exclusion {}", x.id);
                let w = self.expressible(&Expr::Not(Box::new(x.expr.clone())), &part);
                (x, part, w)
            })
            .collect()
    }

    /// The error for a detection of which nothing can be expressed on this table.
    pub fn nothing_expressible(&mut self, w: &Widened) {
        let why = Unbuildable {
            backend: self.backend,
            source: self.source,
            why: Whole::NothingExpressible {
                target: self.target.clone(),
                matches_all: *w == Widened::True,
            },
        };
        let (spec, det) = (self.spec, self.det);
        self.diags.push(
            Diag::error(
                DiagKind::Fidelity(Fidelity::Inexpressible),
                format!("{}/{}: {why}", spec.id, det.id),
            )
            .at(&spec.file, det.span)
            .help(format!("drop source `{}` from this detection", self.source))
            .cause(Cause::Unbuildable(why)),
        );
    }

    /// Check the columns the query reads: a missing one is an error, unless it is a group-by
    /// field the backend can leave out under a declared gap. Returns the fields left out, or
    /// `None` when the rule cannot be built.
    fn output(&mut self, needs: Vec<Need>) -> Option<Vec<Field>> {
        let (spec, det, source, table) = (self.spec, self.det, self.source, self.table);
        let gap = det.gaps.get(&self.backend);
        let mut errors = Vec::new();
        let mut left_out: Vec<Field> = Vec::new();
        // those of `left_out` that are output columns, not group-by fields
        let mut columns: Vec<Field> = Vec::new();
        for n in needs {
            if table.column(n.field).is_some() {
                continue;
            }
            if (n.group_by || n.column) && self.words.grouped.is_some() && gap.is_some() {
                if !left_out.contains(&n.field) {
                    left_out.push(n.field);
                    if n.column {
                        columns.push(n.field);
                    }
                }
                continue;
            }
            errors.push(
                Diag::error(
                    DiagKind::Fidelity(Fidelity::Inexpressible),
                    format!(
                        "{}/{}: {} needs `{}`, which {} does not have",
                        spec.id, det.id, n.what, n.field, table.name
                    ),
                )
                .at(&spec.file, det.span)
                .help(format!(
                    "use another field, or drop source `{source}` from this detection"
                ))
                .cause(Cause::Gaps(vec![Gap {
                    backend: self.backend,
                    field: n.field,
                    table: table.name.clone(),
                    role: Role::Output,
                }])),
            );
        }
        let (grouped, projected): (Vec<Field>, Vec<Field>) =
            left_out.iter().partition(|f| !columns.contains(f));
        for (fields, is_column) in [(grouped, false), (projected, true)] {
            let (false, Some(g), Some(reason)) = (fields.is_empty(), &self.words.grouped, gap)
            else {
                continue;
            };
            let names: Vec<&str> = fields.iter().map(|f| f.name()).collect();
            let subject = if g.with_source {
                format!("{}/{} ({source})", spec.id, det.id)
            } else {
                format!("{}/{}", spec.id, det.id)
            };
            let message = if is_column {
                format!(
                    "{subject}: {} has no field for the output column `{}`, so the {} results leave it out (declared gap: {reason})",
                    table.name,
                    names.join("`, `"),
                    self.words.title
                )
            } else {
                format!(
                    "{subject}: {} has no field for summarize `{}`, so {} (declared gap: {reason})",
                    table.name,
                    names.join("`, `"),
                    g.consequence
                )
            };
            self.diags.push(
                Diag::warning(DiagKind::Semantics, message)
                    .at(&spec.file, det.span)
                    .cause(Cause::Gaps(
                        fields
                            .iter()
                            .map(|f| Gap {
                                backend: self.backend,
                                field: *f,
                                table: table.name.clone(),
                                role: Role::Output,
                            })
                            .collect(),
                    )),
            );
        }
        let ok = errors.is_empty();
        self.diags.extend(errors);
        ok.then_some(left_out)
    }
}

/// The rules a backend builds for one spec: every (detection, source) with its table, in
/// spec order. A detection declared `unsupported` for the backend is skipped with a warning;
/// a source the backend has no table for is an error.
pub fn rules_of<'a, B: Backend>(
    spec: &'a IrSpec,
    diags: &mut Vec<Diag>,
) -> Vec<(&'a IrDetection, Source, &'static TableMap)> {
    let words = &B::WORDS;
    let mut out = Vec::new();
    for det in &spec.detections {
        if let Some(reason) = det.unsupported.get(&B::NAME) {
            let why = Unbuildable {
                backend: B::NAME,
                source: det.sources.first().copied().unwrap_or(Source::Endpoint),
                why: Whole::Declared {
                    reason: reason.clone(),
                },
            };
            diags.push(
                Diag::warning(
                    DiagKind::Fidelity(Fidelity::Inexpressible),
                    format!("{}/{}: {why}", spec.id, det.id),
                )
                .at(&spec.file, det.span)
                .cause(Cause::Unbuildable(why)),
            );
            continue;
        }
        for &source in &det.sources {
            match crate::mapping::table_for(B::tables(), det.category, source) {
                Some(table) => out.push((det, source, table)),
                None => {
                    let why = Unbuildable {
                        backend: B::NAME,
                        source,
                        why: Whole::NoTable {
                            title: words.title,
                            noun: words.table,
                            category: det.category,
                        },
                    };
                    diags.push(
                        Diag::error(
                            DiagKind::Fidelity(Fidelity::Inexpressible),
                            format!("{}/{}: {why}", spec.id, det.id),
                        )
                        .at(&spec.file, det.span)
                        .help(format!(
                            "remove the source, or choose a mapping with a {} for it (`rmmc list mappings`, `--mapping`)",
                            words.table
                        ))
                        .cause(Cause::Unbuildable(why)),
                    )
                }
            }
        }
    }
    out
}

/// A rule's description: the spec's text, then the paragraphs the wrappers share.
pub struct Description(String);

impl Description {
    pub fn new(text: impl Into<String>) -> Description {
        Description(text.into())
    }

    /// The spec's references, one per line.
    pub fn references(mut self, spec: &IrSpec) -> Description {
        for r in &spec.references {
            self.0.push('\n');
            self.0.push_str(r);
        }
        self
    }

    /// `Excluded as benign:` and each exclusion of the rule with its reason.
    pub fn benign<'x, N>(&mut self, exclusions: &[Excluded<'x, N>]) {
        if exclusions.is_empty() {
            return;
        }
        self.0.push_str("\n\nExcluded as benign:");
        for e in exclusions {
            self.0.push_str(&format!("\n- {}: {}", e.x.id, e.x.reason));
        }
    }

    /// The declared gap a rule relies on, as a paragraph (see `known_gap`).
    pub fn known_gap(&mut self, who: &str, reason: &str) {
        self.paragraph(&known_gap(who, reason));
    }

    /// A paragraph of its own.
    pub fn paragraph(&mut self, text: &str) {
        self.0.push_str("\n\n");
        self.0.push_str(text);
    }

    pub fn push_str(&mut self, text: &str) {
        self.0.push_str(text);
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// `Known gap (<who> matches more than the spec): <reason>`: what a rule's description says
/// about the declared gap it relies on.
pub fn known_gap(who: &str, reason: &str) -> String {
    format!("Known gap ({who} matches more than the spec): {reason}")
}

/// A rule's name from the backend's `rule_name` template (`backends/<backend>.yaml`), with
/// ` (<suffix>)` when the detection reads several sources.
pub fn rule_name(
    template: &'static str,
    spec: &IrSpec,
    det: &IrDetection,
    suffix: &str,
) -> Result<String, minijinja::Error> {
    let mut name = crate::render::render_str(
        template,
        minijinja::context! { vendor => spec.vendor, title => det.title },
    )?;
    if det.sources.len() > 1 {
        name.push_str(&format!(" ({suffix})"));
    }
    Ok(name)
}
